"""What the store does with the file at the database's path: a first start creates it whole; a
zero-length, foreign or missing file is refused; a file deleted or replaced while open is noticed;
storage errors come out classified and make the store degraded; a probe ends it; the open file can be
written back."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from raspisms_daemon.store.db import APPLICATION_ID, Database, marker_path, open_database
from raspisms_daemon.store.faults import FaultKind, StorageFault
from tests.helpers.daemon_process import REPO
from tests.helpers.small_fs import fill, small_tmpfs


async def test_a_first_start_creates_the_database_whole_and_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "state" / "raspisms.sqlite3"
    db = await open_database(path)
    await db.close()
    assert marker_path(path).exists()
    assert [p.name for p in path.parent.iterdir() if ".new-" in p.name] == []  # no temporary left
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    conn.close()


async def test_a_missing_database_after_a_first_start_is_refused_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "raspisms.sqlite3"
    await (await open_database(path)).close()
    _remove_database(path)
    with pytest.raises(StorageFault) as refused:
        await open_database(path)
    assert refused.value.kind is FaultKind.MISSING and refused.value.fatal
    assert str(path) in str(refused.value) and str(marker_path(path)) in str(refused.value)
    assert not path.exists()
    marker_path(path).unlink()  # the owner's decision: start empty
    await (await open_database(path)).close()


async def test_a_zero_length_database_is_refused_even_at_a_first_start(tmp_path: Path) -> None:
    path = tmp_path / "raspisms.sqlite3"
    path.touch()
    with pytest.raises(StorageFault) as refused:
        await open_database(path)
    assert refused.value.kind is FaultKind.EMPTY
    assert str(path) in str(refused.value)
    assert path.stat().st_size == 0  # left as it was


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p.write_text("[daemon]\napi_key = x\n" * 20), "not an SQLite file"),
        (lambda p: _sqlite(p, "PRAGMA application_id = 1234; CREATE TABLE t(x)"), "another application"),
        (lambda p: _sqlite(p, "CREATE TABLE notes(x)"), "without raspisms-daemon's tables"),
    ],
    ids=["text", "other-application", "other-schema"],
)
async def test_a_foreign_file_is_refused_and_left_alone(tmp_path: Path, make: object, why: str) -> None:
    path = tmp_path / "raspisms.sqlite3"
    make(path)  # type: ignore[operator]
    before = path.read_bytes()
    with pytest.raises(StorageFault, match=why) as refused:
        await open_database(path)
    assert refused.value.kind is FaultKind.FOREIGN
    assert path.read_bytes() == before


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _sqlite(path: Path, script: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()


async def test_a_database_made_before_the_application_id_is_recognised_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "raspisms.sqlite3"
    await (await open_database(path)).close()
    _sqlite(path, "PRAGMA application_id = 0")
    marker_path(path).unlink()
    await (await open_database(path)).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()
    assert marker_path(path).exists()


async def test_a_deleted_or_replaced_file_is_noticed_before_any_write(tmp_path: Path, db: Database) -> None:
    db.check_file()  # as opened: fine
    os.rename(db.path, tmp_path / "moved.sqlite3")
    with pytest.raises(StorageFault) as deleted:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO received (at, text, origin, id_phone) VALUES (1, 'x', '+331', 1)")
    assert deleted.value.kind is FaultKind.DELETED
    assert db.health.fault is not None and db.health.fault.kind is FaultKind.DELETED
    (tmp_path / "other.sqlite3").write_bytes(b"x")
    os.rename(tmp_path / "other.sqlite3", db.path)
    with pytest.raises(StorageFault) as replaced:
        db.check_file()
    assert replaced.value.kind is FaultKind.REPLACED


async def test_the_open_file_is_written_back_with_every_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "raspisms.sqlite3"
    db = await open_database(path)
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO phone (id, name, backend, device) VALUES (7, 'p', 'at', '')")
    path.unlink()
    await db.backup_to(path)
    await db.close()
    db = await open_database(path)
    try:
        assert (await db.fetchone("SELECT name FROM phone WHERE id = 7"))[0] == "p"  # type: ignore[index]
    finally:
        await db.close()


# Run in a child process: were the copy to retry for ever on the connection (SQLITE_BUSY at each step
# while a write transaction is open on it), its thread would never end and neither would pytest.
WRITE_BACK_IN_A_TRANSACTION = """
import asyncio, sys
from pathlib import Path
from raspisms_daemon.store.db import open_database

async def main(path):
    db = await open_database(path)
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO phone (id, name, backend, device) VALUES (7, 'p', 'at', '')")
            path.unlink()
            restore = asyncio.ensure_future(db.backup_to(path))
            await asyncio.sleep(0.3)
            print("copy waited for the commit:", not restore.done(), flush=True)
            await conn.execute("INSERT INTO phone (id, name, backend, device) VALUES (8, 'q', 'at', '')")
        await restore
    finally:
        await db.close()

asyncio.run(main(Path(sys.argv[1])))
"""


async def test_a_write_back_during_a_transaction_waits_for_it_and_copies_its_rows(tmp_path: Path) -> None:
    # The storage watch writes the file back while a transaction is open (a sender between two of its
    # statements): the copy waits for that commit and holds its rows.
    path = tmp_path / "raspisms.sqlite3"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITE_BACK_IN_A_TRANSACTION, str(path), stdout=asyncio.subprocess.PIPE, cwd=REPO
    )
    try:
        out, _ = await asyncio.wait_for(child.communicate(), 30)
    except TimeoutError:
        child.kill()
        await child.wait()
        pytest.fail("the write-back never finished: the transaction it interrupted could not go on")
    assert child.returncode == 0
    assert out.decode().strip() == "copy waited for the commit: True"
    with sqlite3.connect(path) as copy:
        assert copy.execute("SELECT id FROM phone WHERE id IN (7, 8) ORDER BY id").fetchall() == [(7,), (8,)]
    copy.close()


async def test_a_full_disk_makes_the_store_degraded_and_a_probe_ends_it(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", size="2m") as small:
        db = await open_database(small / "raspisms.sqlite3")
        changes: list[FaultKind | None] = []
        db.health.subscribe(lambda fault: changes.append(None if fault is None else fault.kind))
        try:
            filler = fill(small)
            with pytest.raises(StorageFault) as full:
                for i in range(10_000):  # until the WAL must grow
                    async with db.transaction() as conn:
                        await conn.execute(
                            "INSERT INTO received (at, text, origin, id_phone) VALUES (?, ?, '+331', 1)",
                            (i, "x" * 2000),
                        )
            assert full.value.kind is FaultKind.FULL and full.value.transient
            assert db.health.degraded and str(db.path) in (db.health.reason or "")
            filler.unlink()
            await db.probe()
            db.health.recovered()
            assert not db.health.degraded
            assert changes == [FaultKind.FULL, None]
        finally:
            await db.close()
