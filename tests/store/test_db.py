"""The SQLite file: private mode, WAL, synchronous=FULL, migrations, transactions, claim indexes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.errors import StoreError
from raspisms_daemon.store.db import BUSY_TIMEOUT_MS, CHECKPOINT_COMMITS, Database, migrations, open_database
from tests.helpers.daemon_process import poll_until


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def pragma(db: Database, name: str) -> Any:
    """The value of ``PRAGMA name`` (untyped: straight from a SQLite row)."""
    row = await db.fetchone(f"PRAGMA {name}")
    assert row is not None
    return row[0]


async def test_new_database_file_is_created_private_in_a_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sub" / "db.sqlite3"
    db = await open_database(path)
    try:
        assert mode(path) == 0o600
        for suffix in ("-wal", "-shm"):
            assert mode(Path(f"{path}{suffix}")) == 0o600  # WAL mode: both exist while open
    finally:
        await db.close()


async def test_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    await (await open_database(path)).close()
    os.chmod(path, 0o644)
    db = await open_database(path)
    await db.close()
    assert mode(path) == 0o600


async def test_database_uses_wal_full_sync_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    try:
        assert await pragma(db, "journal_mode") == "wal"
        assert await pragma(db, "synchronous") == 2  # FULL
        assert await pragma(db, "busy_timeout") == BUSY_TIMEOUT_MS
        assert await pragma(db, "foreign_keys") == 1
    finally:
        await db.close()


async def test_migrations_set_user_version_and_create_the_webhook_tables(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    try:
        latest = migrations()[-1][0]
        assert await pragma(db, "user_version") == latest
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"webhook", "outbox", "delivery_attempt"} <= tables
    finally:
        await db.close()


async def test_reopening_a_migrated_database_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await open_database(path)
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO webhook (name, url, types, created_at) VALUES ('a', 'http://x/', 'receive_sms', 0)"
        )
    await db.close()
    db = await open_database(path)
    try:
        assert [r["name"] for r in await db.fetchall("SELECT name FROM webhook")] == ["a"]
    finally:
        await db.close()


def test_migration_files_are_numbered_without_gaps_from_001() -> None:
    versions = [v for v, _, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert migrations()[0][1] == "001_webhooks.sql"


async def test_transaction_rolls_back_when_its_body_raises(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO webhook (name, url, types, created_at) VALUES ('a', 'http://x/', 't', 0)"
                )
                raise RuntimeError("boom")
        assert await db.fetchall("SELECT * FROM webhook") == []
        # and the connection is usable afterwards (not stuck inside a transaction)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO webhook (name, url, types, created_at) VALUES ('b', 'http://x/', 't', 0)"
            )
        assert len(await db.fetchall("SELECT * FROM webhook")) == 1
    finally:
        await db.close()


async def test_a_committed_transaction_is_visible_to_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await open_database(path)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO webhook (name, url, types, created_at) VALUES ('a', 'http://x/', 't', 0)"
            )
        other = sqlite3.connect(path)
        assert other.execute("SELECT name FROM webhook").fetchall() == [("a",)]
        other.close()
    finally:
        await db.close()


async def test_unwritable_location_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create database"):
        await open_database(blocker / "db.sqlite3")


async def test_claim_and_prune_queries_can_use_the_partial_indexes_without_sorting(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    try:
        claim = await db.fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox INDEXED BY outbox_pending_due WHERE state = 'pending' "
            "AND webhook_id = 1 "
            "AND next_attempt_at <= 5 ORDER BY next_attempt_at LIMIT 10"
        )
        assert any("outbox_pending_due" in r["detail"] for r in claim), [r["detail"] for r in claim]
        prune = await db.fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox INDEXED BY outbox_delivered_at "
            "WHERE state = 'delivered' "
            "AND delivered_at < 5 "
            "ORDER BY delivered_at LIMIT 10"
        )
        assert any("outbox_delivered_at" in r["detail"] for r in prune), [r["detail"] for r in prune]
        assert not any("TEMP B-TREE" in r["detail"] for r in claim + prune)
    finally:
        await db.close()


async def test_cancelling_transactions_at_any_point_never_leaves_the_connection_in_one(
    tmp_path: Path,
) -> None:
    db = await open_database(tmp_path / "db.sqlite3")

    async def writer(i: int) -> None:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO webhook (name, url, types, created_at) VALUES (?, 'http://x/', 't', 0)",
                (f"w{i}",),
            )

    try:
        for i in range(60):
            task = asyncio.create_task(writer(i))
            for _ in range(i % 6):  # cancel at a different await each time
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.sleep(0.05)
        assert not db.conn.in_transaction
        await writer(1000)  # a later transaction still works and commits
        other = sqlite3.connect(tmp_path / "db.sqlite3")
        assert ("w1000",) in other.execute("SELECT name FROM webhook").fetchall()
        other.close()
    finally:
        await db.close()


async def test_a_non_durable_transaction_commits_and_always_leaves_synchronous_full(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")

    async def synchronous() -> int:
        return int(await pragma(db, "synchronous"))

    async def writer(i: int) -> None:
        async with db.transaction(durable=False) as conn:
            row = await (await conn.execute("PRAGMA synchronous")).fetchone()
            assert row is not None and row[0] == 1  # NORMAL
            await conn.execute(
                "INSERT INTO webhook (name, url, types, created_at) VALUES (?, 'http://x/', 't', 0)",
                (f"w{i}",),
            )

    try:
        await writer(0)
        assert await synchronous() == 2  # FULL again for the next (durable) transaction
        for i in range(1, 40):  # cancelled at every await in turn: FULL is always put back
            task = asyncio.create_task(writer(i))
            for _ in range(i % 8):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.01)
            assert await synchronous() == 2, f"left at NORMAL after a cancel at step {i % 8}"
        other = sqlite3.connect(tmp_path / "db.sqlite3")
        assert ("w0",) in other.execute("SELECT name FROM webhook").fetchall()
        other.close()
    finally:
        await db.close()


# --- the read-only connection ---------------------------------------------------------------------


async def test_reads_do_not_see_an_open_transaction_and_never_see_a_rolled_back_one(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    insert = "INSERT INTO webhook (name, url, types, created_at) VALUES (?, 'http://127.0.0.1:1/', 'x', 0)"
    names = "SELECT name FROM webhook ORDER BY id"
    try:
        async with db.transaction() as conn:
            await conn.execute(insert, ("committed",))
            assert [r["name"] for r in await db.fetchall(names)] == ["committed"]  # the shared connection
            assert await db.reads.fetchall(names) == []
            assert await db.reads.fetchone(names) is None
        assert [r["name"] for r in await db.reads.fetchall(names)] == ["committed"]
        with contextlib.suppress(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute(insert, ("rolled back",))
                assert [r["name"] for r in await db.reads.fetchall(names)] == ["committed"]
                raise RuntimeError("the body fails: rollback")
        assert [r["name"] for r in await db.reads.fetchall(names)] == ["committed"]
    finally:
        await db.close()


async def test_the_read_only_view_refuses_writes_and_transactions(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(sqlite3.OperationalError, match=r"readonly"):
            await db.reads.conn.execute("DELETE FROM webhook")
        with pytest.raises(StoreError, match="read-only"):
            async with db.reads.transaction():
                pass
        assert db.reads.reads is db.reads  # no third connection
        async with db.transaction() as conn:  # the writer is unaffected
            await conn.execute("DELETE FROM webhook")
    finally:
        await db.close()
    with pytest.raises(ValueError):  # closed with the Database
        await db.reads.conn.execute("SELECT 1")


async def test_the_wal_is_checkpointed_in_the_background_every_so_many_commits(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await open_database(path)
    try:
        # The writer's own checkpoint waits for far more pages than these commits write.
        assert await pragma(db, "wal_autocheckpoint") > 2 * CHECKPOINT_COMMITS
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE filler (blob BLOB)")
        size = os.stat(path).st_size
        for _ in range(CHECKPOINT_COMMITS):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO filler VALUES (zeroblob(4000))")
        # The pages reach the database file (only a checkpoint writes there in WAL mode), without any
        # further transaction on the writer.
        await poll_until(lambda: os.stat(path).st_size >= size + CHECKPOINT_COMMITS * 4000, within=10)
    finally:
        await db.close()


@pytest.mark.parametrize("stuck", ["writer", "reader"])
async def test_the_database_answers_only_while_both_its_connection_threads_do(
    tmp_path: Path, stuck: str
) -> None:
    db = await open_database(tmp_path / "db.sqlite3")
    release = threading.Event()
    target = db if stuck == "writer" else db.reads
    try:
        await target.conn.create_function("hold", 0, lambda: release.wait(10))
        held = asyncio.create_task(target.fetchone("SELECT hold()"))  # the thread is busy until released
        await asyncio.sleep(0.1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await db.answers()
        release.set()
        await held
        async with asyncio.timeout(5):
            await db.answers()
    finally:
        release.set()
        await db.close()
