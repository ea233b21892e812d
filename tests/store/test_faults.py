"""Which errors are storage faults, and of which kind: table-driven, on real exception values (SQLite's
own, raised by a real connection where it can be made to fail; errno values otherwise)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from raspisms_daemon.errors import StoreError
from raspisms_daemon.store.faults import FaultKind, StorageFault, classify

PATH = Path("/var/lib/raspisms-daemon/raspisms.sqlite3")


def sqlite_error(code: int, cls: type[sqlite3.Error] = sqlite3.OperationalError) -> sqlite3.Error:
    exc = cls("boom")
    exc.sqlite_errorcode = code
    return exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (sqlite_error(sqlite3.SQLITE_FULL), FaultKind.FULL),
        (sqlite_error(sqlite3.SQLITE_IOERR_SHMSIZE), FaultKind.IO),  # an extended code: its low byte
        (sqlite_error(sqlite3.SQLITE_BUSY), FaultKind.BUSY),
        (sqlite_error(sqlite3.SQLITE_CORRUPT, sqlite3.DatabaseError), FaultKind.CORRUPT),
        (sqlite_error(sqlite3.SQLITE_NOTADB, sqlite3.DatabaseError), FaultKind.CORRUPT),
        (sqlite_error(sqlite3.SQLITE_READONLY), FaultKind.PERMISSION),
        (sqlite_error(sqlite3.SQLITE_CANTOPEN), FaultKind.PERMISSION),
        (OSError(errno.ENOSPC, "No space left on device"), FaultKind.FULL),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), FaultKind.FULL),
        (OSError(errno.EACCES, "Permission denied"), FaultKind.PERMISSION),
        (OSError(errno.EROFS, "Read-only file system"), FaultKind.PERMISSION),
        (OSError(errno.EIO, "Input/output error"), FaultKind.IO),
    ],
)
def test_storage_errors_are_classified(exc: BaseException, kind: FaultKind) -> None:
    fault = classify(exc, PATH)
    assert fault is not None and fault.kind is kind
    assert str(PATH) in str(fault)


@pytest.mark.parametrize(
    "exc",
    [
        sqlite_error(sqlite3.SQLITE_CONSTRAINT, sqlite3.IntegrityError),
        sqlite_error(sqlite3.SQLITE_ERROR),  # a bad query: a bug, not the disk
        OSError(errno.ENOTDIR, "Not a directory"),
        ValueError("x"),
        StoreError("unknown id"),
    ],
)
def test_other_errors_are_not_storage_faults(exc: BaseException) -> None:
    assert classify(exc, PATH) is None


def test_a_fault_is_found_behind_the_errors_that_wrap_it() -> None:
    try:
        try:
            raise sqlite_error(sqlite3.SQLITE_FULL)
        except sqlite3.Error as inner:
            raise StoreError("could not take the SMS in") from inner
    except StoreError as outer:
        fault = classify(outer, PATH)
    assert fault is not None and fault.kind is FaultKind.FULL


def test_a_real_sqlite_error_carries_its_code(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database, only some text that is long enough " * 100)
    conn = sqlite3.connect(junk)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        conn.execute("SELECT * FROM sqlite_master")
    conn.close()
    fault = classify(caught.value, junk)
    assert fault is not None and fault.kind is FaultKind.CORRUPT and fault.fatal


@pytest.mark.parametrize(
    ("kind", "transient", "fatal"),
    [
        (FaultKind.FULL, True, False),
        (FaultKind.IO, True, False),
        (FaultKind.BUSY, True, False),
        (FaultKind.DELETED, False, False),  # written back from the open file, then a restart
        (FaultKind.CORRUPT, False, True),
        (FaultKind.PERMISSION, False, True),
        (FaultKind.FOREIGN, False, True),
        (FaultKind.EMPTY, False, True),
        (FaultKind.MISSING, False, True),
        (FaultKind.REPLACED, False, True),
        (FaultKind.IN_USE, False, True),
    ],
)
def test_which_faults_fix_themselves(kind: FaultKind, transient: bool, fatal: bool) -> None:
    assert (kind.transient, kind.fatal) == (transient, fatal)


def test_in_use_names_the_holder() -> None:
    assert str(StorageFault(FaultKind.IN_USE, PATH, pid=4242)).startswith(
        f"database {PATH} in use by PID 4242"
    )
