"""The SQLite file: opening it safely (0600, WAL, ``synchronous=FULL``), migrations, transactions.

Migrations are the numbered files ``migrations/NNN_name.sql``; each one is applied in its own
``BEGIN IMMEDIATE`` transaction together with ``PRAGMA user_version = NNN``, so a crash mid-migration
leaves the previous version intact, and two processes opening the same file do not both migrate it.

The file is checked before use, and a path that does not hold what we left there is never silently
replaced by an empty database (docs/design.md §4):

- no file and no marker ``<database>.created``: a first start; the database is built under a temporary
  name and linked into place complete, so a crash mid-creation leaves no file, never a half-made one;
  the marker is written once it is there (and on the first open of a database made before markers);
- no file but the marker: the database went missing: refused (restore it, or remove the marker);
- a zero-length file, a file that is not SQLite, or an SQLite file of another application (its
  ``application_id`` is not ours): refused;
- while open, :meth:`Database.check_file` compares the path's device and inode with the file opened:
  deleted or replaced is a :class:`~.faults.StorageFault` (every transaction checks it first).

Errors are classified (:func:`~.faults.classify`): a storage fault is raised as
:class:`~.faults.StorageFault` and reported to :attr:`Database.health`.

Reads and transactions: :attr:`Database.conn` is the one connection every write transaction uses, so a
read on it while another coroutine is inside :meth:`Database.transaction` sees that transaction's
uncommitted rows, which may still be rolled back. Reads that are not part of a transaction (API lists,
``/metrics``, status counts) go through :attr:`Database.reads`, a second, read-only connection: in WAL
mode it sees only committed data and neither blocks nor waits for the writer.

WAL checkpoints (copying the WAL's pages into the database file: two fsyncs) run in the background on a
connection of their own, every :data:`CHECKPOINT_COMMITS` commits, so that no transaction waits behind
one: on an SD card an fsync costs 20–200 ms, and SQLite's own checkpoint would run inside whichever
commit crossed its threshold, an SMS's take-in as likely as any. SQLite's automatic checkpoint stays on, at a
much higher threshold, for a writer that outpaces the background one (bulk inserts).
"""

from __future__ import annotations

import asyncio
import contextlib
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
from .faults import FaultKind, StorageFault, classify
from .health import StorageHealth

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_MS",
    "CHECKPOINT_COMMITS",
    "Database",
    "marker_path",
    "migrations",
    "open_database",
]

log = logging.getLogger("raspisms_daemon.store")

BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_COMMITS = 100  # about the 1 000 WAL pages after which SQLite checkpoints by itself
AUTOCHECKPOINT_PAGES = 10_000  # SQLite's checkpoint in the writer: only when the background one lags
# PRAGMA application_id of our files ("RSMS"), so that another program's SQLite file is recognised.
APPLICATION_ID = 0x52534D53
_SQLITE_MAGIC = b"SQLite format 3\x00"


def marker_path(database: Path) -> Path:
    """Written once the database exists: from then on a missing database file is an error."""
    return database.with_name(database.name + ".created")


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
        identity: tuple[int, int] | None = None,
        health: StorageHealth | None = None,
    ) -> None:
        self.conn = conn
        self.path = path
        self.health = health or StorageHealth(path)
        # (st_dev, st_ino) of the file opened: the path must keep naming it.
        self.identity = identity
        self._read_only = read_only
        # One writer at a time inside this process; SQLite's busy_timeout handles other processes.
        self._lock = asyncio.Lock()
        self._reads: Database = (
            self
            if reader is None or read_only
            else Database(reader, path, read_only=True, identity=identity, health=self.health)
        )
        self._commits = 0  # since the last background checkpoint
        self._checkpoint: asyncio.Task[None] | None = None

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
        async with self._lock, self._classified():
            stuck = self.health.fault
            if stuck is not None and not stuck.transient:
                # Corrupt, deleted, replaced …: nothing more is written to this file.
                raise StorageFault(stuck.kind, stuck.path, stuck.detail, pid=stuck.pid)
            self.check_file()
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
                    self._commits += 1
                    if self._commits >= CHECKPOINT_COMMITS:
                        self._start_checkpoint()
            finally:
                if not durable:
                    await asyncio.shield(self.conn.execute("PRAGMA synchronous = FULL"))

    def _start_checkpoint(self) -> None:
        """A passive checkpoint on the checkpoint connection, unless one is still running."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._commits = 0
        self._checkpoint = asyncio.create_task(self._run_checkpoint(), name="sqlite-checkpoint")

    async def _run_checkpoint(self) -> None:
        if self.health.degraded:
            return  # the file is in trouble: the probe and the writers deal with it
        try:
            # Its own connection (and thread) only while it runs: an idle daemon keeps no third one.
            conn = await _connect(self.path)
            try:
                # PASSIVE: copies what no reader still needs, never waits for a lock nor blocks the writer.
                await conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                await conn.close()
        except (sqlite3.Error, OSError, StoreError) as exc:
            # Nothing is lost: the pages stay in the WAL, and the next checkpoint copies them.
            log.warning("background checkpoint of %s failed: %s", self.path, exc)

    @asynccontextmanager
    async def _classified(self) -> AsyncIterator[None]:
        """A storage fault (disk full, corrupt page …) comes out as a StorageFault, reported to
        :attr:`health`; any other error as it was."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            fault = classify(exc, self.path)
            if fault is None:
                raise
            self.health.report(fault)
            raise fault from exc
        except StorageFault as fault:
            self.health.report(fault)
            raise

    def check_file(self) -> None:
        """Raise :class:`StorageFault` (``DELETED``/``REPLACED``) when the path no longer names the
        file this object has open. A ``stat``: cheap enough for every transaction and every SIM delete."""
        if self.identity is None:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise StorageFault(FaultKind.DELETED, self.path, "its path names no file any more") from None
        except OSError as exc:
            raise StorageFault(FaultKind.IO, self.path, f"cannot stat it: {exc}") from exc
        if (st.st_dev, st.st_ino) != self.identity:
            raise StorageFault(
                FaultKind.REPLACED, self.path, f"inode {st.st_ino} is at its path, {self.identity[1]} was"
            )

    async def probe(self) -> None:
        """A real durable commit (rewrites the header's user_version with its own value), to learn
        whether writes work again; raises StorageFault (reported) when they do not."""
        async with self.transaction() as conn:
            async with conn.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            await conn.execute(f"PRAGMA user_version = {int(row[0]) if row else 0}")

    async def answers(self) -> None:
        """A statement through each connection's thread (the writer's outside the transaction lock):
        the watchdog's proof that neither the thread every message is taken in through nor the one the
        sender and the API read through is stuck."""
        async with self.conn.execute("SELECT 1"):
            pass
        if self._reads is not self:
            await self._reads.answers()

    async def backup_to(self, target: Path) -> None:
        """A consistent copy of the open database (WAL content included) at ``target``, which must not
        exist: written under a temporary name, synced, then linked into place. Waits for the transaction
        in progress: its rows are in the copy."""
        tmp = target.with_name(f"{target.name}.restore-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        try:
            dest = await aiosqlite.connect(tmp, isolation_level=None)
            try:
                # Under the transaction lock: on a connection inside a write transaction every backup
                # step is refused as busy, and sqlite3's backup() retries for ever in the one thread
                # that would have to run that transaction's next statement.
                async with self._lock:
                    await self.conn.backup(dest)
            finally:
                await dest.close()
            _fsync_path(tmp)
            os.link(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_path(target.parent)

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
            if self._checkpoint is not None:
                await self._checkpoint
            if self._reads is not self:
                await self._reads.close()
        finally:
            await self.conn.close()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tighten(path: Path) -> None:
    """The file and its -wal/-shm are 0600: they hold phone numbers and message texts."""
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
        raise classify(exc, path) or StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except BaseException as exc:
        await conn.close()
        if isinstance(exc, sqlite3.Error):
            raise classify(exc, path) or StoreError(f"database {path}: {exc}") from exc
        raise
    return conn


async def _create(path: Path) -> None:
    """A first start: the whole schema built under a temporary name, then linked to ``path`` (an
    existing ``path`` — another process was quicker — is kept)."""
    tmp = path.with_name(f"{path.name}.new-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # Created 0600 from the first byte: no window where another user could open it.
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    try:
        conn = await _connect(tmp)
        try:
            await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await _migrate(conn, path)
        finally:
            await conn.close()
        _fsync_path(tmp)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        _fsync_path(path.parent)
        log.info("database %s created", path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _check_existing(path: Path) -> None:
    """Refuse a file that cannot be our database: zero-length, or not SQLite at all."""
    with open(path, "rb") as f:
        head = f.read(len(_SQLITE_MAGIC))
    if not head:
        raise StorageFault(
            FaultKind.EMPTY,
            path,
            "not re-initialised: restore it from a backup, or delete it to start with an empty database",
        )
    if head != _SQLITE_MAGIC:
        raise StorageFault(FaultKind.FOREIGN, path, "it is not an SQLite file")


async def _check_ours(conn: aiosqlite.Connection, path: Path) -> None:
    """Our application_id, or (a database made before it was set) our schema; then set it."""
    async with conn.execute("PRAGMA application_id") as cur:
        row = await cur.fetchone()
    app_id = int(row[0]) if row else 0
    if app_id == APPLICATION_ID:
        return
    if app_id == 0:
        async with conn.execute("PRAGMA user_version") as cur:
            version = await cur.fetchone()
        async with conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'") as c:
            outbox = await c.fetchone()
        if version is not None and version[0] >= 1 and outbox is not None:
            await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            return
        raise StorageFault(FaultKind.FOREIGN, path, "an SQLite file without raspisms-daemon's tables")
    raise StorageFault(FaultKind.FOREIGN, path, f"the SQLite file of another application (id {app_id:#x})")


def _write_marker(path: Path) -> None:
    marker = marker_path(path)
    if marker.exists():
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    try:
        text = (
            f"{path.name} exists since this file was written. While it is here, a missing {path.name} "
            "is an error, not a first start: restore the database, or remove this file to start empty.\n"
        )
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def open_database(path: Path | str) -> Database:
    """Open the database file (creating it at a first start), check it, bring its schema up to date.

    Raises :class:`~.faults.StorageFault` when the file cannot be used (see the module docstring),
    :class:`StoreError` for anything else that stops it from opening.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            if marker_path(path).exists():
                raise StorageFault(
                    FaultKind.MISSING,
                    path,
                    f"a database was created here before ({marker_path(path)} says so): restore it from a "
                    f"backup, or remove {marker_path(path)} to start with an empty database",
                )
            await _create(path)
        _check_existing(path)
        _tighten(path)
    except StorageFault:
        raise
    except (OSError, sqlite3.Error) as exc:
        raise classify(exc, path) or StoreError(f"cannot create database {path}: {exc}") from exc
    conn = await _connect(path)
    try:
        identity = _identity(path)
        await _check_ours(conn, path)  # before anything writes to it (the WAL switch does)
        async with conn.execute("PRAGMA journal_mode = WAL") as cur:
            row = await cur.fetchone()
        if row is None or str(row[0]).lower() != "wal":
            raise StoreError(f"database {path}: cannot switch to WAL mode (got {row and row[0]!r})")
        # FULL: a commit survives power loss (a Pi's plug is pulled without warning).
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        await _migrate(conn, path)
        _tighten(path)  # the -wal/-shm files now exist; make sure they are private too
        _write_marker(path)
    except BaseException as exc:
        await conn.close()
        if isinstance(exc, sqlite3.Error | OSError):
            raise classify(exc, path) or StoreError(f"database {path}: {exc}") from exc
        raise
    try:
        reader = await _connect(path)
        # query_only rather than a mode=ro URI: a read-only open of a WAL file has conditions on its
        # -wal/-shm files; query_only gives the same guarantee (SQLite refuses any write on it).
        await reader.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return Database(conn, path, reader=reader, identity=identity)


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)
