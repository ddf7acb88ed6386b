"""On the SQLite store a second delivering process is refused, with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendtrail.adapters.delivery.sole_worker import AnotherWorkerRuns, SoleWorkerLock


def test_a_second_worker_on_one_data_directory_is_refused(tmp_path: Path) -> None:
    first, second = SoleWorkerLock(tmp_path), SoleWorkerLock(tmp_path)
    first.acquire()
    with pytest.raises(AnotherWorkerRuns, match=r"\[store\] url"):
        second.acquire()
    first.release()
    second.acquire()  # free again once the first is gone
    second.release()


def test_workers_on_different_data_directories_do_not_contend(tmp_path: Path) -> None:
    one, other = SoleWorkerLock(tmp_path / "a"), SoleWorkerLock(tmp_path / "b")
    one.acquire()
    other.acquire()
    one.release()
    other.release()
