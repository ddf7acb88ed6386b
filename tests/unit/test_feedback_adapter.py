"""The ``feedback classify`` adapter: one line per recipient, a fixed JSON shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sendtrail.adapters.feedback_classify import JSON_KEYS, run_classify

BOUNCE = (
    b"From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\n"
    b"<a@example.net>:\n550 5.1.1 unknown\n\n<b@example.net>:\n452 4.2.2 mailbox full\n"
)
COMPLAINT = (
    b"From: fbl@isp.example.com\nSubject: report\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="A"\n\n'
    b"--A\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: x/1\n--A--\n"
)


def test_json_lines_have_the_public_shape(tmp_path: Path) -> None:
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(BOUNCE)
    complaint = tmp_path / "complaint.eml"
    complaint.write_bytes(COMPLAINT)
    out = io.StringIO()
    assert run_classify([str(bounce), str(complaint)], as_json=True, out=out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [tuple(record) for record in records] == [JSON_KEYS] * 3
    assert records[0] == {
        "file": str(bounce),
        "kind": "bounce",
        "recipient": "a@example.net",
        "action": "failed",
        "status": "5.1.1",
        "bounce_type": "Permanent",
        "bounce_subtype": "NoEmail",
        "feedback_type": None,
        "diagnostic_code": "550 5.1.1 unknown",
    }
    assert (records[1]["status"], records[1]["bounce_type"]) == ("4.2.2", "Transient")
    # A report without recipient lines still prints one line, recipient null.
    assert records[2]["recipient"] is None
    assert (records[2]["kind"], records[2]["feedback_type"]) == ("complaint", "abuse")


def test_text_form_is_one_readable_line_per_recipient(tmp_path: Path) -> None:
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(BOUNCE)
    out = io.StringIO()
    assert run_classify([str(bounce)], as_json=False, out=out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bounce}: bounce recipient=a@example.net action=failed")
    assert "status=5.1.1 type=Permanent/NoEmail" in lines[0]


def test_unreadable_file_is_reported_and_the_others_still_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(BOUNCE)
    missing = tmp_path / "missing.eml"
    out = io.StringIO()
    assert run_classify([str(missing), str(bounce)], as_json=True, out=out) == 1
    assert f"cannot read {missing}" in capsys.readouterr().err
    assert len(out.getvalue().splitlines()) == 2
