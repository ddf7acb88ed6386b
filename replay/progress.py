"""Progress for long work: a live line on a terminal, periodic lines in logs."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TextIO


def format_time(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ProgressLine:
    """Calls as ``progress(done, total)``; redraws at most ten times a second."""

    def __init__(self, label: str, out: TextIO | None = None, *, unit: str = "events") -> None:
        self.label = label
        self.unit = unit
        self.out = out or sys.stderr
        self.interactive = self.out.isatty()
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._last_log = self.started

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.interactive:
            if now - self._last_draw < 0.1 and done < total:
                return
            self._last_draw = now
            self.out.write("\r" + self._line(done, total, now))
            self.out.flush()
        elif now - self._last_log >= 5 or done >= total:
            self._last_log = now
            self.out.write(self._line(done, total, now) + "\n")

    def finish(self) -> None:
        if self.interactive:
            self.out.write("\n")

    def _line(self, done: int, total: int, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        share = done / total if total else 1.0
        width = 30
        bar = "#" * int(share * width)
        return (
            f"{self.label} [{bar:<{width}}] {done:,}/{total:,} {self.unit} "
            f"({share:.0%}, {done / elapsed:,.0f}/s)"
        )
