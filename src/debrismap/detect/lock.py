"""One writer per run folder: an OS advisory lock (fcntl.flock) that dies with its process.

A killed run (even kill -9) releases the lock automatically, so --resume never has to
clean up a stale lock file; a second live run into the same folder is refused at once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from debrismap.errors import OutputError

LOCK_NAME = ".debrismap.lock"


class RunLock:
    def __init__(self, folder: str | Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"output folder is not writable ({exc.strerror})", path=self.path.parent) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise OutputError(
                f"another debrismap run (pid {holder}) is writing to this folder; wait for it or use another --out",
                path=self.path.parent,
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
