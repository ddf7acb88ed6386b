"""Delivers the notification outbox: webhooks per ``[topics]`` (raw SES JSON or an SNS
envelope, signed the Standard Webhooks way) and feedback forwarded by email through a relay.

``Notifier(store, settings)`` is the component the service runs; ``signing`` holds what a
receiver needs to check a request.
"""

from sendtrail.adapters.notifier.notifier import Notifier
from sendtrail.adapters.notifier.signing import verify_webhook, webhook_signature

__all__ = ["Notifier", "verify_webhook", "webhook_signature"]
