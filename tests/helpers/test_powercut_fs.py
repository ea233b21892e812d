"""The power-cut file system itself: unsynced writes are dropped by a clear-cache, synced ones kept,
close makes nothing durable, and SQLite in WAL mode keeps exactly its fsynced commits across a SIGKILL
plus a clear-cache (what the daemon's power-cut test relies on)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.helpers.powercut_fs import PowerCutMount, mounted


def write(path: Path, data: bytes, *, offset: int = 0, sync: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, offset)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)  # close alone makes nothing durable


async def test_unsynced_writes_are_gone_after_a_clear_cache_and_synced_ones_stay(tmp_path: Path) -> None:
    with mounted(tmp_path) as fs:
        synced, closed = fs.mountpoint / "synced", fs.mountpoint / "closed"
        write(synced, b"A" * 10_000, sync=True)
        write(synced, b"B" * 100, offset=5_000)  # overwrites a part, never synced
        write(synced, b"C" * 100, offset=20_000)  # grows the file, never synced
        write(closed, b"written and closed, never synced")
        assert synced.stat().st_size == 20_100
        assert synced.read_bytes()[5_000:5_100] == b"B" * 100  # visible before the power cut
        assert (fs.backing / "closed").read_bytes() == b""  # nothing reached the disk yet

        await fs.clear_cache()

        assert synced.read_bytes() == b"A" * 10_000
        assert closed.read_bytes() == b""  # the file exists (a create is metadata) but is empty


async def test_names_change_at_once_and_the_cache_follows_the_file(tmp_path: Path) -> None:
    with mounted(tmp_path) as fs:
        a, b = fs.mountpoint / "a", fs.mountpoint / "b"
        write(a, b"first", sync=True)
        write(a, b"FIRST")
        a.rename(b)
        assert b.read_bytes() == b"FIRST" and not a.exists()
        assert (fs.backing / "b").exists()  # the rename is on disk
        await fs.clear_cache()
        assert b.read_bytes() == b"first"
        b.unlink()
        assert not (fs.backing / "b").exists()


async def test_frozen_syncs_wait_until_thawed_while_reads_and_writes_go_on(tmp_path: Path) -> None:
    with mounted(tmp_path) as fs:
        path = fs.mountpoint / "f"
        write(path, b"before", sync=True)
        await fs.freeze_syncs()
        syncing = asyncio.ensure_future(asyncio.to_thread(write, path, b"during", sync=True))
        await asyncio.sleep(0.5)
        assert not syncing.done()  # the fsync waits …
        assert path.read_bytes() == b"during"  # … while the file system still reads and writes
        await fs.thaw_syncs()
        await asyncio.wait_for(syncing, 10)
        assert (fs.backing / "f").read_bytes() == b"during"  # the sync went through once thawed


WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER, synced INTEGER)")
conn.execute("PRAGMA synchronous = FULL")
for i in range(50):
    conn.execute("INSERT INTO t VALUES (?, 1)", (i,))
conn.execute("PRAGMA synchronous = OFF")  # from here on nothing is fsynced
for i in range(50, 80):
    conn.execute("INSERT INTO t VALUES (?, 0)", (i,))
print("done", flush=True)
sys.stdin.read()  # wait to be killed, connections open
"""


async def test_sqlite_keeps_its_fsynced_commits_across_sigkill_and_a_power_cut(tmp_path: Path) -> None:
    with mounted(tmp_path) as fs:
        db = fs.mountpoint / "t.sqlite3"
        writer = _start_writer(db)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "done"
        assert _count(db) == (80, 30)  # before the cut: every commit visible
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        await fs.clear_cache()
        assert _count(db) == (50, 0)  # after it: exactly the fsynced ones
        assert _integrity(db) == "ok"


def _start_writer(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _count(db: Path) -> tuple[int, int]:
    conn = sqlite3.connect(db)
    try:
        total, unsynced = conn.execute("SELECT count(*), total(synced = 0) FROM t").fetchone()
        return total, int(unsynced)
    finally:
        conn.close()


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_mounted_is_a_context_manager_of_a_running_file_system(tmp_path: Path) -> None:
    with mounted(tmp_path) as fs:
        assert isinstance(fs, PowerCutMount) and os.path.ismount(fs.mountpoint)
        assert fs.process.poll() is None
    assert not os.path.ismount(tmp_path / "mnt")
