"""One daemon per database: the lock file, its holder's PID, and a lock that dies with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raspisms_daemon.store.faults import FaultKind, StorageFault
from raspisms_daemon.store.lock import DatabaseLock, lock_path

HOLD = """
import sys, time
from pathlib import Path
from raspisms_daemon.store.lock import DatabaseLock
DatabaseLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_lock_on_the_same_database_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    db = tmp_path / "state" / "raspisms.sqlite3"
    first = DatabaseLock(db)
    first.acquire()
    try:
        assert lock_path(db).read_text().strip() == str(os.getpid())
        with pytest.raises(StorageFault) as refused:
            DatabaseLock(db).acquire()
        assert refused.value.kind is FaultKind.IN_USE
        assert f"database {db} in use by PID {os.getpid()}" in str(refused.value)
    finally:
        first.release()
    again = DatabaseLock(db)
    again.acquire()  # released: free again
    again.release()


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    db = tmp_path / "raspisms.sqlite3"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StorageFault, match=f"in use by PID {holder.pid}"):
            DatabaseLock(db).acquire()
        holder.send_signal(signal.SIGKILL)  # no clean-up at all, as in a power cut
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
    deadline = time.monotonic() + 5
    lock = DatabaseLock(db)
    while True:
        try:
            lock.acquire()
            break
        except StorageFault:
            assert time.monotonic() < deadline, "the dead process's lock was not released"
            time.sleep(0.01)
    assert lock_path(db).read_text().strip() == str(os.getpid())  # the stale PID is replaced
    lock.release()


def test_a_lock_file_that_cannot_be_created_is_a_permission_fault(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o500)
    # Root ignores the mode: an immutable directory refuses root too.
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(state)], check=True)
    try:
        with pytest.raises(StorageFault) as refused:
            DatabaseLock(state / "raspisms.sqlite3").acquire()
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(state)], check=True)
    assert refused.value.kind is FaultKind.PERMISSION
