"""The audit commands, run as a user runs them: simulate, verify, replay, history."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "sendtrail.adapters.cli"]


def sendtrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("simulated")
    result = sendtrail("simulate", "--data", str(data), "--messages", "300", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert "simulated 300 messages" in result.stdout
    return data


def copy_of(data: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    target.mkdir()
    source = sqlite3.connect(data / "events.db")
    destination = sqlite3.connect(target / "events.db")
    source.backup(destination)
    source.close()
    destination.close()
    return target


def test_simulate_reaches_every_state_deterministically_for_a_seed(
    simulated: Path, tmp_path: Path
) -> None:
    again = sendtrail("simulate", "--data", str(tmp_path), "--messages", "300", "--seed", "7")
    first = sqlite3.connect(simulated / "events.db")
    second = sqlite3.connect(tmp_path / "events.db")
    rows = "SELECT stream_id, version, type, data FROM events ORDER BY position"
    assert first.execute(rows).fetchall() == second.execute(rows).fetchall()
    states = {row[0] for row in first.execute("SELECT DISTINCT status FROM recipients")}
    assert again.returncode == 0
    assert {"rejected", "delivered", "hard-bounced", "complained", "auto-replied"} <= states


def test_verify_passes_on_an_intact_log(simulated: Path) -> None:
    result = sendtrail("verify", "--data", str(simulated))
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout


def test_replay_verify_finds_the_rebuild_equal_to_the_live_state(simulated: Path) -> None:
    result = sendtrail("replay", "--data", str(simulated), "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "equals the live projections" in result.stdout


def test_replay_verify_fails_loudly_on_a_live_projection_that_drifted(
    simulated: Path, tmp_path: Path
) -> None:
    data = copy_of(simulated, tmp_path)
    db = sqlite3.connect(data / "events.db")
    db.execute(
        "UPDATE recipients SET status = 'delivered' WHERE rowid = "
        "(SELECT rowid FROM recipients WHERE status = 'hard-bounced' LIMIT 1)"
    )
    db.commit()
    db.close()

    result = sendtrail("replay", "--data", str(data), "--verify")

    assert result.returncode == 1
    assert "recipients" in result.stdout and "live" in result.stdout
    assert "1 differences" in result.stderr


def test_replay_rebuilds_the_live_projections_in_place(simulated: Path, tmp_path: Path) -> None:
    data = copy_of(simulated, tmp_path)
    db = sqlite3.connect(data / "events.db")
    db.execute("DELETE FROM recipients")
    db.commit()
    db.close()

    assert sendtrail("replay", "--data", str(data)).returncode == 0
    assert sendtrail("replay", "--data", str(data), "--verify").returncode == 0


def test_replay_until_builds_the_past_state_beside_the_live_one(simulated: Path) -> None:
    db = sqlite3.connect(simulated / "events.db")
    head = db.execute("SELECT MAX(position) FROM events").fetchone()[0]
    middle = db.execute(
        "SELECT recorded_at FROM events WHERE position = ?", (head // 2,)
    ).fetchone()[0]
    last_by_then = db.execute(
        "SELECT MAX(position) FROM events WHERE recorded_at <= ?", (middle,)
    ).fetchone()[0]
    db.close()

    result = sendtrail("replay", "--data", str(simulated), "--until", middle)

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.split("\n", 1)[1])
    assert summary["position"] == last_by_then < head
    outputs = list(simulated.glob("replay-until-*.db"))
    assert len(outputs) == 1


def test_verify_names_the_first_bad_position_of_an_edited_log(
    simulated: Path, tmp_path: Path
) -> None:
    data = copy_of(simulated, tmp_path)
    db = sqlite3.connect(data / "events.db")
    victim = db.execute(
        "SELECT MIN(position) FROM events WHERE type = 'SendRequested' AND position > 40"
    ).fetchone()[0]
    db.execute(
        "UPDATE events SET data = CAST(REPLACE(CAST(data AS TEXT), 'example', 'exampla') AS BLOB) "
        "WHERE position = ?",
        (victim,),
    )
    db.commit()
    db.close()

    result = sendtrail("verify", "--data", str(data))

    assert result.returncode == 1
    assert f"position {victim}:" in result.stderr


def test_verify_notices_a_deleted_tail(simulated: Path, tmp_path: Path) -> None:
    data = copy_of(simulated, tmp_path)
    db = sqlite3.connect(data / "events.db")
    last = db.execute("SELECT MAX(position) FROM events").fetchone()[0]
    db.execute("DELETE FROM events WHERE position = ?", (last,))
    db.commit()
    db.close()

    result = sendtrail("verify", "--data", str(data))

    assert result.returncode == 1
    assert f"position {last}" in result.stderr


def test_history_prints_a_timeline_and_json_lines(simulated: Path) -> None:
    db = sqlite3.connect(simulated / "events.db")
    message_id, count = db.execute(
        "SELECT stream_id, COUNT(*) FROM events GROUP BY stream_id ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    db.close()

    text = sendtrail("history", message_id, "--data", str(simulated))
    lines = sendtrail("history", message_id, "--data", str(simulated), "--json")

    assert text.returncode == 0 and "SendRequested" in text.stdout
    entries = [json.loads(line) for line in lines.stdout.splitlines()]
    assert len(entries) == count
    assert [e["version"] for e in entries] == list(range(1, count + 1))
    assert entries[0]["type"] == "SendRequested"
    assert entries[0]["details"]["message_id"] == message_id


def test_history_of_an_unknown_message_exits_1(simulated: Path) -> None:
    result = sendtrail("history", "nope", "--data", str(simulated))
    assert result.returncode == 1
    assert "unknown message" in result.stderr


def test_a_bad_configuration_is_reported_with_file_key_and_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[delivery]\nsmtp_port = "twenty-five"\n')

    result = sendtrail("verify", "--config", str(config))

    assert result.returncode == 2
    assert str(config) in result.stderr and "delivery.smtp_port" in result.stderr
    assert "Traceback" not in result.stderr


def test_feedback_classify_prints_one_json_object_per_recipient(tmp_path: Path) -> None:
    report = tmp_path / "bounce.eml"
    report.write_bytes(
        b"From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n"
        b"\r\nFinal-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--b--\r\n"
    )

    result = sendtrail("feedback", "classify", str(report), "--json")

    assert result.returncode == 0, result.stderr
    [line] = [json.loads(line) for line in result.stdout.splitlines()]
    assert list(line) == [
        "file", "kind", "recipient", "action", "status", "bounce_type", "bounce_subtype",
        "feedback_type", "diagnostic_code",
    ]  # fmt: skip
    assert (line["kind"], line["recipient"], line["status"]) == (
        "bounce",
        "gone@example.net",
        "5.1.1",
    )
    assert line["bounce_type"] == "Permanent"


def test_suppression_add_list_and_remove_from_the_command_line(tmp_path: Path) -> None:
    data = str(tmp_path)

    added = sendtrail("suppression", "add", "a@example.com", "b@example.com", "--data", data)
    complaint = sendtrail(
        "suppression", "add", "c@example.com", "--reason", "COMPLAINT", "--data", data
    )
    removed = sendtrail("suppression", "remove", "a@example.com", "--data", data)
    missing = sendtrail("suppression", "remove", "nobody@example.com", "--data", data)
    listed = sendtrail("suppression", "list", "--data", data)
    complaints = sendtrail("suppression", "list", "--reason", "COMPLAINT", "--data", data)

    assert (added.returncode, complaint.returncode, removed.returncode) == (0, 0, 0)
    assert missing.returncode == 1 and "nobody@example.com" in missing.stderr
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        ["b@example.com", "BOUNCE"],
        ["c@example.com", "COMPLAINT"],
    ]
    assert complaints.stdout.startswith("c@example.com\tCOMPLAINT")
