"""``make bench``: run every benchmark, print the figures, record them in docs/benchmarks.md."""

from __future__ import annotations

import importlib
import sys

from .record import record

# (name in docs/benchmarks.md, module with a run() -> markdown function)
BENCHMARKS = [
    ("store-appends", "bench.store_bench"),
    ("postgres-appends", "bench.postgres_bench"),
    ("accept", "bench.accept_bench"),
    ("delivery", "bench.delivery_bench"),
    ("replay", "bench.replay_bench"),
    ("feedback", "bench.feedback_bench"),
    ("smtp-submission", "bench.smtp_bench"),
    ("http", "bench.http_bench"),
    ("workers", "bench.workers_bench"),
]


def main(selected: list[str]) -> int:
    for name, module_name in BENCHMARKS:
        if selected and name not in selected:
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(module_name)
        record(name, module.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
