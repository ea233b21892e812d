"""One daemon per database: an exclusive ``flock`` on ``<database>.lock``, held while the daemon runs.

Why a lock file and ``flock`` rather than SQLite's own ``locking_mode = EXCLUSIVE``: the exclusive
mode would also shut out the daemon's second (read-only) connection and the CLI commands that read the
file (``webhooks``, ``deliveries``), and it cannot say *who* holds the file. ``flock`` belongs to the
open file, so the kernel drops it when the process dies however it dies (SIGKILL, power cut: nothing
stale to clean up), unlike a PID file alone; POSIX ``fcntl`` locks would be dropped as soon as any
descriptor of the file is closed in the process. The holder writes its PID into the file so that a
second daemon can say "database … in use by PID n".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from .faults import FaultKind, StorageFault, classify

__all__ = ["DatabaseLock", "lock_path"]


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class DatabaseLock:
    """Held from :meth:`acquire` until :meth:`release` (or the process ends)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = lock_path(database)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StorageFault` (``IN_USE`` with the holder's PID, or
        ``PERMISSION``/``FULL`` when the lock file cannot be made)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_CLOEXEC: a child process (none today) must not inherit, and so keep, the lock.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            fault = classify(exc, self.database)
            kind = fault.kind if fault is not None else FaultKind.IO
            raise StorageFault(
                kind, self.database, f"cannot create the lock file {self.path}: {exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StorageFault(
                    FaultKind.IN_USE, self.database, f"lock file {self.path}", pid=holder
                ) from None
            raise StorageFault(FaultKind.IO, self.database, f"cannot lock {self.path}: {exc}") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the lock holds without the PID in it; a second daemon then says "another process"
        self._fd = fd

    def release(self) -> None:
        # The file stays: removing it would let a third process lock a new file while a second still
        # waits on the old one.
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
