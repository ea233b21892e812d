"""What a failing database file means for the daemon: the kinds of storage trouble, and which error is
which. Pure: it looks at exception values, never at the disk.

Two families (docs/design.md §4, "When the disk fails"):

- **transient**: the file is fine but cannot take a write now (the disk is full, an I/O error, the file
  locked by another process for too long). The daemon goes *degraded*: it keeps what is on the SIM
  there, pauses sending and deliveries, and probes until a write works again.
- **fatal**: only a person can fix it (a corrupt or foreign file, wrong permissions, a zero-length
  file, the file replaced or a second daemon on it). The daemon stops with exit status 78 naming the
  file, so that systemd does not restart it in a loop.

A deleted file is neither: the daemon still has it open, writes a copy back to its path and restarts
(see :mod:`raspisms_daemon.daemon`).
"""

from __future__ import annotations

import enum
import errno
import sqlite3
from pathlib import Path

from ..errors import RaspismsError

__all__ = ["FaultKind", "StorageFault", "classify"]


class FaultKind(enum.Enum):
    # transient
    FULL = "disk full"
    IO = "I/O error"
    BUSY = "locked by another process"
    # neither: the daemon restores the file from its open copy
    DELETED = "deleted while in use"
    # fatal
    CORRUPT = "corrupt"
    PERMISSION = "permission denied"
    FOREIGN = "not a raspisms-daemon database"
    EMPTY = "zero-length"
    MISSING = "missing"
    REPLACED = "replaced while in use"
    IN_USE = "in use by another daemon"

    @property
    def transient(self) -> bool:
        return self in _TRANSIENT

    @property
    def fatal(self) -> bool:
        return not self.transient and self is not FaultKind.DELETED


_TRANSIENT = frozenset({FaultKind.FULL, FaultKind.IO, FaultKind.BUSY})


class StorageFault(RaspismsError):
    """The database file cannot be used as it is; the message names the file and what is wrong."""

    def __init__(self, kind: FaultKind, path: Path, detail: str = "", *, pid: int | None = None) -> None:
        self.kind = kind
        self.path = path
        self.detail = detail
        self.pid = pid
        if kind is FaultKind.IN_USE:
            text = f"database {path} in use by " + (f"PID {pid}" if pid else "another process")
        else:
            text = f"database {path}: {kind.value}"
        super().__init__(text + (f" ({detail})" if detail else ""))

    @property
    def fatal(self) -> bool:
        return self.kind.fatal

    @property
    def transient(self) -> bool:
        return self.kind.transient


# SQLite's primary result codes (the low byte of an extended code).
_SQLITE: dict[int, FaultKind] = {
    sqlite3.SQLITE_FULL: FaultKind.FULL,
    sqlite3.SQLITE_IOERR: FaultKind.IO,
    sqlite3.SQLITE_BUSY: FaultKind.BUSY,
    sqlite3.SQLITE_LOCKED: FaultKind.BUSY,
    sqlite3.SQLITE_NOMEM: FaultKind.IO,
    sqlite3.SQLITE_CORRUPT: FaultKind.CORRUPT,
    sqlite3.SQLITE_NOTADB: FaultKind.CORRUPT,
    sqlite3.SQLITE_READONLY: FaultKind.PERMISSION,
    sqlite3.SQLITE_CANTOPEN: FaultKind.PERMISSION,
    sqlite3.SQLITE_PERM: FaultKind.PERMISSION,
    sqlite3.SQLITE_AUTH: FaultKind.PERMISSION,
}
_ERRNO: dict[int, FaultKind] = {
    errno.ENOSPC: FaultKind.FULL,
    errno.EDQUOT: FaultKind.FULL,
    errno.EIO: FaultKind.IO,
    errno.EACCES: FaultKind.PERMISSION,
    errno.EPERM: FaultKind.PERMISSION,
    errno.EROFS: FaultKind.PERMISSION,
}


def classify(exc: BaseException, path: Path) -> StorageFault | None:
    """The storage fault behind ``exc`` (looking through ``raise … from`` chains), or None when it is
    not one (a constraint, a bug in a query: the caller's business)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFault):
            return current
        kind: FaultKind | None = None
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if isinstance(code, int):
                kind = _SQLITE.get(code & 0xFF)
        elif isinstance(current, OSError) and current.errno is not None:
            kind = _ERRNO.get(current.errno)
        if kind is not None:
            return StorageFault(kind, path, str(current))
        current = current.__cause__ or current.__context__
    return None
