"""On the embedded SQLite store, one process delivers: this lock makes sure of it.

The SQLite queue has no claims (``queue.LocalDeliveryQueue``): a second process delivering
from the same data directory would attempt the same recipients at the same time, and each
would recover the other's live attempts as abandoned at its start. An ``api`` process beside
the one worker is fine; several workers need the PostgreSQL store.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "delivery.lock"


class AnotherWorkerRuns(RuntimeError):
    pass


class SoleWorkerLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Released by the kernel when the process dies, however it dies.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AnotherWorkerRuns(
                f"another process already delivers from {self.path.parent} ({self.path} is "
                "locked); on the SQLite store run one worker (or one 'all'), or set "
                "[store] url to a PostgreSQL database for several"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
