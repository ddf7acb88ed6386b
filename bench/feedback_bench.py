"""Feedback classification speed over the shared real-mail corpus.

Every message of ``shared/corpus/dev/sisimai`` is read into memory first, then classified
``ROUNDS`` times in one process; file reading is not timed. Run with
``python -m bench.feedback_bench`` (SENDTRAIL_CORPUS points at another corpus copy).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sendtrail.core.feedback import classify

ROUNDS = 5
CORPUS = Path(
    os.environ.get("SENDTRAIL_CORPUS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
)


def _messages() -> list[bytes]:
    folder = CORPUS / "dev" / "sisimai"
    paths = sorted(folder.glob("*.eml"))
    if not paths:
        raise FileNotFoundError(f"no corpus messages in {folder} (set SENDTRAIL_CORPUS)")
    return [path.read_bytes() for path in paths]


def measure(rounds: int = ROUNDS) -> dict[str, float]:
    """Classify the whole corpus ``rounds`` times; messages per second over all rounds."""
    messages = _messages()
    for raw in messages:  # warm-up: regex compilation and codec lookups are not measured
        classify(raw)
    started = time.perf_counter()
    for _ in range(rounds):
        for raw in messages:
            classify(raw)
    seconds = time.perf_counter() - started
    count = len(messages) * rounds
    return {
        "messages": count,
        "seconds": round(seconds, 3),
        "messages_per_second": round(count / seconds, 1),
    }


def run() -> str:
    figures = measure()
    text = (
        f"Classified the {figures['messages'] / ROUNDS:,.0f}-message corpus {ROUNDS} times: "
        f"**{figures['messages_per_second']:,.0f} messages/s** on one core "
        f"({figures['seconds']:.2f} s for {figures['messages']:,.0f} messages)."
    )
    print(text)
    return text


if __name__ == "__main__":
    run()
