"""The feedback classifier measured on real mail (the shared Sisimai-derived corpus).

Figures, over ``dev/labels.jsonl`` (one line per expected result, ``index`` = its position):

* kind: share of message files whose report kind equals the expected kind;
* permanent/transient: over label lines with a non-null expected status, the expected class is
  Permanent for 5.x.x, Transient for 4.x.x and "no bounce type" for 2.x.x (delivered); the
  label at ``index`` i is compared with the i-th recipient verdict (a missing verdict fails);
* exact status: over label lines whose status appears in the message (``status_internal`` is
  false), the i-th verdict's status must equal it;
* feedback type: complaint files whose report ``feedback_type`` equals the expected one.

Two robustness figures check that the rules do not lean on one cue (printed, loosely asserted):

* headers neutralised: kind accuracy when every file's From and Subject are replaced by an
  ordinary person's address and "hello" (no mailer-daemon sender, no bounce subject);
* DSN part removed: permanent/transient agreement over the files that had a
  ``message/delivery-status`` part, with that part deleted (only the human text is left).

The corpus lives outside the repository; set SENDTRAIL_CORPUS to use another copy.
"""

from __future__ import annotations

import email
import email.message
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sendtrail.core.feedback.analyze import analyze

CORPUS = Path(
    os.environ.get("SENDTRAIL_CORPUS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
)
DEV = CORPUS / "dev"
LABELS = DEV / "labels.jsonl"

EXPECTED_TYPE = {"5": "Permanent", "4": "Transient", "2": None}


@dataclass
class Score:
    files: int = 0
    kind_ok: int = 0
    class_lines: int = 0
    class_ok: int = 0
    exact_lines: int = 0
    exact_ok: int = 0
    complaints: int = 0
    feedback_ok: int = 0
    errors: list[str] = field(default_factory=list)
    misses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def ratio(self, ok: int, total: int) -> float:
        return ok / total if total else 0.0

    def summary(self) -> str:
        return (
            f"feedback corpus ({self.files} files): "
            f"kind {self.kind_ok}/{self.files} = {self.ratio(self.kind_ok, self.files):.1%}; "
            f"permanent/transient {self.class_ok}/{self.class_lines} = "
            f"{self.ratio(self.class_ok, self.class_lines):.1%}; "
            f"exact status {self.exact_ok}/{self.exact_lines} = "
            f"{self.ratio(self.exact_ok, self.exact_lines):.1%}; "
            f"feedback type {self.feedback_ok}/{self.complaints}"
        )


def _load_labels() -> dict[str, list[dict]]:
    labels: dict[str, list[dict]] = defaultdict(list)
    with LABELS.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                entry = json.loads(line)
                labels[entry["file"]].append(entry)
    for entries in labels.values():
        entries.sort(key=lambda entry: entry["index"])
    return labels


def _score() -> Score:
    score = Score()
    for name, entries in sorted(_load_labels().items()):
        score.files += 1
        try:
            report = analyze((DEV / name).read_bytes())
        except Exception as error:  # classify() would hide this; the test must not
            score.errors.append(f"{name}: {error!r}")
            continue
        expected_kind = entries[0]["kind"]
        if report.kind == expected_kind:
            score.kind_ok += 1
        else:
            score.misses["kind"].append(f"{name}: {report.kind} (expected {expected_kind})")
        for entry in entries:
            position = entry["index"] - 1
            verdict = report.recipients[position] if position < len(report.recipients) else None
            expected_status = entry["status"]
            if expected_status:
                score.class_lines += 1
                expected = EXPECTED_TYPE.get(expected_status[0])
                got = verdict.bounce_type if verdict else "no verdict"
                if got == expected:
                    score.class_ok += 1
                else:
                    score.misses["class"].append(f"{name}#{entry['index']}: {got} ({expected})")
            if entry["status_internal"] is False:
                score.exact_lines += 1
                got = verdict.status if verdict else "no verdict"
                if got == expected_status:
                    score.exact_ok += 1
                else:
                    score.misses["exact"].append(
                        f"{name}#{entry['index']}: {got} ({expected_status})"
                    )
            if entry["kind"] == "complaint":
                score.complaints += 1
                if report.feedback_type == entry["feedback_type"]:
                    score.feedback_ok += 1
                else:
                    score.misses["feedback"].append(
                        f"{name}: {report.feedback_type} ({entry['feedback_type']})"
                    )
    return score


def _neutralise_sender_and_subject(raw: bytes) -> bytes:
    separator = b"\r\n\r\n" if b"\r\n\r\n" in raw[:20000] else b"\n\n"
    head, _, body = raw.partition(separator)
    folded = rb".*(?:\r?\n[ \t].*)*"
    head = re.sub(rb"(?mi)^From:" + folded, b"From: Someone <someone@example.org>", head, count=1)
    head = re.sub(rb"(?mi)^Subject:" + folded, b"Subject: hello", head, count=1)
    return head + separator + body


def _without_dsn_part(raw: bytes) -> bytes | None:
    message = email.message_from_bytes(raw)
    parts = list(message.walk())
    if not any(part.get_content_type() == "message/delivery-status" for part in parts):
        return None

    def strip(part: email.message.Message) -> None:
        if part.is_multipart():
            kept = [
                p for p in part.get_payload() if p.get_content_type() != "message/delivery-status"
            ]
            part.set_payload(kept)
            for sub in kept:
                strip(sub)

    strip(message)
    try:
        return message.as_bytes()
    except Exception:  # a message the stdlib cannot re-serialise is simply not counted
        return None


@dataclass
class Robustness:
    neutral_files: int = 0
    neutral_kind_ok: int = 0
    stripped_lines: int = 0
    stripped_class_ok: int = 0

    def summary(self) -> str:
        return (
            f"robustness: kind with From/Subject neutralised {self.neutral_kind_ok}/"
            f"{self.neutral_files} = {self.neutral_kind_ok / self.neutral_files:.1%}; "
            f"permanent/transient with the DSN part removed {self.stripped_class_ok}/"
            f"{self.stripped_lines} = {self.stripped_class_ok / self.stripped_lines:.1%}"
        )


def _robustness() -> Robustness:
    result = Robustness()
    for name, entries in sorted(_load_labels().items()):
        raw = (DEV / name).read_bytes()
        result.neutral_files += 1
        if analyze(_neutralise_sender_and_subject(raw)).kind == entries[0]["kind"]:
            result.neutral_kind_ok += 1
        stripped = _without_dsn_part(raw)
        if stripped is None:
            continue
        report = analyze(stripped)
        for entry in entries:
            if not entry["status"]:
                continue
            result.stripped_lines += 1
            position = entry["index"] - 1
            verdict = report.recipients[position] if position < len(report.recipients) else None
            if verdict and verdict.bounce_type == EXPECTED_TYPE.get(entry["status"][0]):
                result.stripped_class_ok += 1
    return result


def _show(request: pytest.FixtureRequest, lines: list[str]) -> None:
    # The figures are the point of this module: show them even when output is captured.
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + "\n".join(lines))
    else:
        print("\n".join(lines))


@pytest.fixture(scope="module")
def score(request: pytest.FixtureRequest) -> Score:
    if not LABELS.is_file():
        pytest.skip(f"feedback corpus not found at {CORPUS} (set SENDTRAIL_CORPUS)")
    computed = _score()
    lines = [computed.summary()]
    lines += [f"  {kind} misses: {', '.join(found)}" for kind, found in computed.misses.items()]
    _show(request, lines)
    return computed


@pytest.fixture(scope="module")
def robustness(request: pytest.FixtureRequest, score: Score) -> Robustness:
    computed = _robustness()
    _show(request, [computed.summary()])
    return computed


def test_every_file_is_analysed_without_an_internal_error(score: Score) -> None:
    assert score.errors == []
    assert score.files == 348


def test_kind_is_right_for_at_least_97_percent_of_files(score: Score) -> None:
    assert score.ratio(score.kind_ok, score.files) >= 0.97, score.misses["kind"]


def test_permanent_vs_transient_agrees_for_at_least_97_percent(score: Score) -> None:
    assert score.ratio(score.class_ok, score.class_lines) >= 0.97, score.misses["class"]


def test_exact_status_for_at_least_90_percent_of_visible_codes(score: Score) -> None:
    assert score.ratio(score.exact_ok, score.exact_lines) >= 0.90, score.misses["exact"]


def test_complaint_feedback_type_for_at_least_10_of_11(score: Score) -> None:
    assert score.complaints == 11
    assert score.feedback_ok >= 10, score.misses["feedback"]


def test_kind_does_not_depend_on_the_sender_or_subject_alone(robustness: Robustness) -> None:
    assert robustness.neutral_kind_ok / robustness.neutral_files >= 0.93


def test_the_human_readable_text_alone_gives_the_class(robustness: Robustness) -> None:
    assert robustness.stripped_class_ok / robustness.stripped_lines >= 0.88
