"""Feedback parsing: bounces, complaints, auto-replies and delivery reports.

``classify(raw)`` turns one raw message (bytes) into a :class:`FeedbackReport`. Everything in
this package is pure: no I/O, no clock, no randomness.
"""

from .analyze import classify
from .model import (
    BOUNCE_SUBTYPES,
    BOUNCE_TYPES,
    KINDS,
    FeedbackReport,
    RecipientVerdict,
)

__all__ = [
    "BOUNCE_SUBTYPES",
    "BOUNCE_TYPES",
    "KINDS",
    "FeedbackReport",
    "RecipientVerdict",
    "classify",
]
