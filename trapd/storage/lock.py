"""One daemon per storage root: an flock on ``<root>/.trapd/lock``, released by the kernel on exit."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from trapd.errors import StorageBusyError, StorageError


class StorageLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(
                f"lock file {self._path} cannot be opened ({exc.strerror or exc}); "
                "is the storage owned by another user?"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StorageBusyError(
                f"storage {self._path.parent.parent} is in use by another trapd (pid {holder}); "
                "stop it first or pass a different --storage"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
