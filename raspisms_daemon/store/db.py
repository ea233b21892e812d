"""The SQLite file: opening it safely (0600, WAL, ``synchronous=FULL``), migrations, transactions.

Migrations are the numbered files ``migrations/NNN_name.sql``; each one is applied in its own
``BEGIN IMMEDIATE`` transaction together with ``PRAGMA user_version = NNN``, so a crash mid-migration
leaves the previous version intact, and two processes opening the same file do not both migrate it.

Reads and transactions: :attr:`Database.conn` is the one connection every write transaction uses, so a
read on it while another coroutine is inside :meth:`Database.transaction` sees that transaction's
uncommitted rows, which may still be rolled back. Reads that are not part of a transaction (API lists,
``/metrics``, status counts) go through :attr:`Database.reads`, a second, read-only connection: in WAL
mode it sees only committed data and neither blocks nor waits for the writer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreError

__all__ = ["BUSY_TIMEOUT_MS", "Database", "migrations", "open_database"]

log = logging.getLogger("raspisms_daemon.store")

BUSY_TIMEOUT_MS = 10_000
_MIGRATION_NAME = re.compile(r"^(\d{3})_[A-Za-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, sql)`` of every migration shipped in the package, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"two migrations share a number: {[n for _, n, _ in found]}")
    return found


def _statements(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would COMMIT our transaction)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise StoreError(f"incomplete SQL statement at the end of a migration: {current.strip()[:80]!r}")
    return out


class Database:
    """One aiosqlite connection in autocommit mode; writes go through :meth:`transaction`.

    ``reader``: an optional second connection (read-only) behind :attr:`reads`; without one, reads
    fall back to ``conn`` (and may then see rows of a transaction in progress).
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        path: Path,
        *,
        reader: aiosqlite.Connection | None = None,
        read_only: bool = False,
    ) -> None:
        self.conn = conn
        self.path = path
        self._read_only = read_only
        # One writer at a time inside this process; SQLite's busy_timeout handles other processes.
        self._lock = asyncio.Lock()
        self._reads: Database = (
            self if reader is None or read_only else Database(reader, path, read_only=True)
        )

    @property
    def reads(self) -> Database:
        """The same database seen through the read-only connection: committed rows only.

        For reads outside a transaction; it has the whole read API (``conn``, ``fetchall``,
        ``fetchone``), so store functions taking a ``Database`` or a connection accept it. Its
        :meth:`transaction` refuses: writes go through this object.
        """
        return self._reads

    @asynccontextmanager
    async def transaction(self, *, durable: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; ``ROLLBACK`` when the body raises (or is cancelled).

        ``durable=False`` commits with ``synchronous=NORMAL``: no fsync of its own, the WAL frames become
        durable with the next full commit or checkpoint. Only for bookkeeping whose loss in a power cut
        is harmless (a lease, a delivery result: at worst a webhook is sent again, with the same id);
        anything taken in from a modem or a user stays ``durable``.
        """
        if self._read_only:
            raise StoreError("no transaction on the read-only view of the database (write through Database)")
        async with self._lock:
            try:
                if not durable:
                    # Inside the try: even when cancelled here, the finally puts FULL back (aiosqlite
                    # runs statements in order), so no durable transaction can run at NORMAL.
                    await asyncio.shield(self.conn.execute("PRAGMA synchronous = NORMAL"))
                try:
                    await self.conn.execute("BEGIN IMMEDIATE")
                except asyncio.CancelledError:
                    # The BEGIN still runs in aiosqlite's thread; undo it after it, or the connection
                    # would stay inside a transaction nobody owns.
                    await asyncio.shield(self._rollback())
                    raise
                try:
                    yield self.conn
                except BaseException:
                    # Shielded: a cancelled caller must not leave the connection inside a transaction.
                    await asyncio.shield(self._rollback())
                    raise
                else:
                    await asyncio.shield(self.conn.commit())
            finally:
                if not durable:
                    await asyncio.shield(self.conn.execute("PRAGMA synchronous = FULL"))

    async def _rollback(self) -> None:
        try:
            await self.conn.rollback()
        except sqlite3.Error:
            log.exception("rollback failed")

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def close(self) -> None:
        try:
            if self._reads is not self:
                await self._reads.close()
        finally:
            await self.conn.close()


def _create_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the first byte (no window where another user could open it), and an existing
    # file is tightened: it holds phone numbers and message texts.
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and (p.stat().st_mode & 0o777) != 0o600:
            os.chmod(p, 0o600)


async def _migrate(conn: aiosqlite.Connection, path: Path) -> None:
    for version, name, sql in migrations():
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        if row is not None and row[0] >= version:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            async with conn.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            if row is not None and row[0] >= version:
                await conn.rollback()
                continue
            for stmt in _statements(sql):
                await conn.execute(stmt)
            await conn.execute(f"PRAGMA user_version = {int(version)}")
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        log.info("database %s migrated to version %d (%s)", path, version, name)


async def _connect(path: Path) -> aiosqlite.Connection:
    """A connection in autocommit mode (transactions are exactly the ones we BEGIN), rows by name."""
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except BaseException as exc:
        await conn.close()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"database {path}: {exc}") from exc
        raise
    return conn


async def open_database(path: Path | str) -> Database:
    """Open (creating if needed) the database file, configure it and bring its schema up to date."""
    path = Path(path)
    try:
        _create_private(path)
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc}") from exc
    conn = await _connect(path)
    try:
        async with conn.execute("PRAGMA journal_mode = WAL") as cur:
            row = await cur.fetchone()
        if row is None or str(row[0]).lower() != "wal":
            raise StoreError(f"database {path}: cannot switch to WAL mode (got {row and row[0]!r})")
        # FULL: a commit survives power loss (a Pi's plug is pulled without warning).
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await _migrate(conn, path)
    except sqlite3.Error as exc:
        await conn.close()
        raise StoreError(f"database {path}: {exc}") from exc
    except BaseException:
        await conn.close()
        raise
    _create_private(path)  # the -wal/-shm files now exist; make sure they are private too
    try:
        reader = await _connect(path)
        # query_only rather than a mode=ro URI: a read-only open of a WAL file has conditions on its
        # -wal/-shm files; query_only gives the same guarantee (SQLite refuses any write on it).
        await reader.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return Database(conn, path, reader=reader)
