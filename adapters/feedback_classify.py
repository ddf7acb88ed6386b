"""``sendtrail feedback classify FILE... [--json]``: classify raw feedback messages from files.

One output line per recipient verdict (a report without recipients still gets one line, with
``recipient`` null). The JSON line shape is a public interface; keep its keys and order.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from sendtrail.core.feedback import FeedbackReport, RecipientVerdict, classify

JSON_KEYS = (
    "file",
    "kind",
    "recipient",
    "action",
    "status",
    "bounce_type",
    "bounce_subtype",
    "feedback_type",
    "diagnostic_code",
)


def report_lines(path: str, report: FeedbackReport) -> list[dict[str, str | None]]:
    """The public per-recipient records for one classified file."""
    verdicts = report.recipients or (RecipientVerdict(recipient=None),)
    return [
        {
            "file": path,
            "kind": report.kind,
            "recipient": verdict.recipient,
            "action": verdict.action,
            "status": verdict.status,
            "bounce_type": verdict.bounce_type,
            "bounce_subtype": verdict.bounce_subtype,
            "feedback_type": report.feedback_type,
            "diagnostic_code": verdict.diagnostic_code,
        }
        for verdict in verdicts
    ]


def _text_line(record: dict[str, str | None]) -> str:
    parts = [f"{record['file']}: {record['kind']}", f"recipient={record['recipient'] or '-'}"]
    if record["action"]:
        parts.append(f"action={record['action']}")
    if record["status"]:
        parts.append(f"status={record['status']}")
    if record["bounce_type"]:
        parts.append(f"type={record['bounce_type']}/{record['bounce_subtype']}")
    if record["feedback_type"]:
        parts.append(f"feedback={record['feedback_type']}")
    if record["diagnostic_code"]:
        parts.append(f"diagnostic={json.dumps(record['diagnostic_code'], ensure_ascii=False)}")
    return " ".join(parts)


def run_classify(paths: list[str], as_json: bool, out: TextIO) -> int:
    """Classify each file and print its verdicts; 1 when a file could not be read, else 0."""
    status = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as error:
            reason = error.strerror or error.__class__.__name__
            print(f"sendtrail feedback classify: cannot read {path}: {reason}", file=sys.stderr)
            status = 1
            continue
        for record in report_lines(path, classify(raw)):
            if as_json:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                out.write(_text_line(record) + "\n")
    return status
