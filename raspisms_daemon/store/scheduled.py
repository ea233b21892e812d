"""SMS to send: ``scheduled`` rows (one text, one or more numbers) until every number has its ``sended``
row or was skipped (state ``done``), or the owner cancels them (``cancelled``).

A number carries its template data (RaspiSMS's ``scheduled_number.data``), the text rendered for it
when templating changed it, and, once the sender decided not to send to it, why (``skipped``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Concatenate, NamedTuple, ParamSpec, TypeVar

import aiosqlite

from ..errors import StoreError
from .db import Database

__all__ = [
    "MAX_TEXT",
    "Destination",
    "NewNumber",
    "Scheduled",
    "cancel",
    "create",
    "due",
    "finish",
    "get",
    "insert",
    "is_pending",
    "next_due_at",
    "number_rows",
    "numbers_of",
    "skip",
    "unsent_numbers",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

MAX_TEXT = 10_000  # a sanity bound (≈ 65 UCS-2 parts); the SMS network itself allows 255 parts


class Scheduled(NamedTuple):
    id: int
    id_user: int
    at: float
    text: str
    id_phone: int | None
    flash: bool
    tag: str | None
    mms: bool
    state: str  # pending | done | cancelled
    id_phone_group: int | None = None


class NewNumber(NamedTuple):
    """One destination of a new scheduled SMS: the number, its JSON data as given, its rendered text
    (None: the scheduled text) and, when it is not to be sent at all, why."""

    number: str
    data: str = "[]"
    text: str | None = None
    skipped: str | None = None


class Destination(NamedTuple):
    """One number of a scheduled SMS still to send (``scheduled_number`` row)."""

    id: int
    number: str
    text: str | None = None  # the text rendered for this number; None: the scheduled text


_COLUMNS = "id, id_user, at, text, id_phone, flash, tag, mms, state, id_phone_group"


def _scheduled(row: sqlite3.Row) -> Scheduled:
    return Scheduled(
        id=row["id"],
        id_user=row["id_user"],
        at=row["at"],
        text=row["text"],
        id_phone=row["id_phone"],
        flash=bool(row["flash"]),
        tag=row["tag"],
        mms=bool(row["mms"]),
        state=row["state"],
        id_phone_group=row["id_phone_group"],
    )


async def insert(
    conn: aiosqlite.Connection,
    *,
    text: str,
    numbers: Sequence[NewNumber | str],
    now: float,
    at: float | None = None,
    id_phone: int | None = None,
    id_phone_group: int | None = None,
    tag: str | None = None,
    flash: bool = False,
    id_user: int = 1,
) -> int:
    """Insert a scheduled SMS inside the caller's transaction (``at`` None = now); returns its id.

    Raises StoreError with a message fit for the API user on an empty text, no number, or an unknown
    phone. Numbers are stored as given, in order: validating them is the caller's business.
    """
    if not isinstance(text, str) or not text:
        raise StoreError("text must not be empty")
    if len(text) > MAX_TEXT:
        raise StoreError(f"text is too long ({len(text)} characters, at most {MAX_TEXT})")
    rows = [NewNumber(n) if isinstance(n, str) else n for n in numbers]
    if not rows:
        raise StoreError("at least one number is required")
    if id_phone is not None:
        async with conn.execute("SELECT id FROM phone WHERE id = ?", (int(id_phone),)) as cur:
            if await cur.fetchone() is None:
                raise StoreError(f"unknown phone id {id_phone}")
    cur = await conn.execute(
        "INSERT INTO scheduled (id_user, at, text, id_phone, id_phone_group, flash, tag, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (id_user, now if at is None else float(at), text, id_phone, id_phone_group, int(flash), tag, now),
    )
    sid = cur.lastrowid
    assert sid is not None
    await conn.executemany(
        "INSERT INTO scheduled_number (id_scheduled, number, data, text, skipped, skipped_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(sid, n.number, n.data, n.text, n.skipped, None if n.skipped is None else now) for n in rows],
    )
    return int(sid)


def _in_own_transaction(
    body: Callable[Concatenate[aiosqlite.Connection, _P], Awaitable[_T]],
) -> Callable[Concatenate[Database, _P], Awaitable[_T]]:
    """``body`` (run in the caller's transaction) as a function that runs in a transaction of its own,
    with the same parameters."""

    async def in_transaction(db: Database, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        async with db.transaction() as conn:
            return await body(conn, *args, **kwargs)

    in_transaction.__doc__ = f":func:`{body.__name__}` in a transaction of its own."
    return in_transaction


# insert's parameters, with their defaults, written once: create(db, text=…, numbers=…, now=…, …).
create = _in_own_transaction(insert)


async def get(db: Database, id: int) -> Scheduled | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM scheduled WHERE id = ?", (id,))
    return None if row is None else _scheduled(row)


async def numbers_of(db: Database, ids: Sequence[int]) -> dict[int, list[str]]:
    """The numbers of each scheduled SMS, in the order they were given."""
    out: dict[int, list[str]] = {i: [] for i in ids}
    for r in await number_rows(db, ids):
        out[r["id_scheduled"]].append(r["number"])
    return out


async def number_rows(db: Database, ids: Sequence[int]) -> list[sqlite3.Row]:
    """``id, id_scheduled, number, data, text, skipped`` of the numbers of these scheduled SMS."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return await db.fetchall(
        "SELECT id, id_scheduled, number, data, text, skipped FROM scheduled_number "
        f"WHERE id_scheduled IN ({marks}) ORDER BY id",
        list(ids),
    )


async def cancel(db: Database, id: int) -> bool:
    """Cancel a scheduled SMS that has not started sending. False when unknown, sent or being sent."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE scheduled SET state = 'cancelled' WHERE id = ? AND state = 'pending' "
            "AND NOT EXISTS (SELECT 1 FROM sended WHERE originating_scheduled = ?)",
            (id, id),
        )
        return cur.rowcount > 0


async def due(
    db: Database, *, now: float, limit: int, after: tuple[float, int] | None = None
) -> list[Scheduled]:
    """Pending SMS due at ``now``, the earliest first; ``after`` = ``(at, id)`` of the last one of the
    previous page (keyset paging: rows left pending on an earlier page are not read again)."""
    start_at, start_id = after if after is not None else (float("-inf"), 0)
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM scheduled WHERE state = 'pending' AND at <= ? "
        "AND (at > ? OR (at = ? AND id > ?)) ORDER BY at, id LIMIT ?",
        (now, start_at, start_at, start_id, limit),
    )
    return [_scheduled(r) for r in rows]


async def is_pending(conn: aiosqlite.Connection, id_scheduled: int) -> bool:
    """Still waiting to be sent (not cancelled, not done), read inside the caller's transaction: the
    sender claims a destination with its ``sending`` row in the same transaction, so a cancel either
    commits first (and this says False) or finds that row and is refused."""
    async with conn.execute("SELECT state FROM scheduled WHERE id = ?", (id_scheduled,)) as cur:
        row = await cur.fetchone()
    return row is not None and row[0] == "pending"


async def next_due_at(db: Database, *, after: float) -> float | None:
    """When the next pending SMS not yet due falls due."""
    row = await db.fetchone("SELECT MIN(at) FROM scheduled WHERE state = 'pending' AND at > ?", (after,))
    return None if row is None or row[0] is None else float(row[0])


async def unsent_numbers(db: Database, id_scheduled: int) -> list[Destination]:
    """The numbers of a scheduled SMS that have no ``sended`` row yet and were not skipped."""
    rows = await db.fetchall(
        "SELECT n.id, n.number, n.text FROM scheduled_number n WHERE n.id_scheduled = ? "
        "AND n.skipped IS NULL AND NOT EXISTS (SELECT 1 FROM sended s WHERE s.scheduled_number = n.id) "
        "ORDER BY n.id",
        (id_scheduled,),
    )
    return [Destination(r[0], r[1], r[2]) for r in rows]


async def skip(conn: aiosqlite.Connection, number_id: int, *, reason: str, at: float) -> None:
    """The sender will not send to this number (caller's transaction)."""
    await conn.execute(
        "UPDATE scheduled_number SET skipped = ?, skipped_at = ? WHERE id = ?", (reason, at, number_id)
    )


async def finish(conn: aiosqlite.Connection, id_scheduled: int | None) -> None:
    """A scheduled SMS is done once every one of its numbers has its sended row or was skipped
    (caller's transaction). Called after each of its SMS: the numbers are looked at from the last,
    which the sender reaches last, so that the question costs one lookup until the end, not one per
    number already sent (quadratic over a 10 000-number SMS)."""
    if id_scheduled is None:
        return
    await conn.execute(
        "UPDATE scheduled SET state = 'done' WHERE id = ? AND state = 'pending' AND ("
        "SELECT n.id FROM scheduled_number n WHERE n.id_scheduled = scheduled.id AND n.skipped IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM sended s WHERE s.scheduled_number = n.id) "
        "ORDER BY n.id DESC LIMIT 1) IS NULL",
        (id_scheduled,),
    )
