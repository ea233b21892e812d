"""SMS to send: ``scheduled`` rows (one text, one or more numbers) until every number has its ``sended``
row (state ``done``) or the owner cancels them (``cancelled``)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from ..errors import StoreError
from .db import Database

__all__ = [
    "MAX_TEXT",
    "Destination",
    "Scheduled",
    "cancel",
    "create",
    "due",
    "finish",
    "get",
    "is_pending",
    "next_due_at",
    "normalize_number",
    "numbers_of",
    "unsent_numbers",
]

MAX_TEXT = 10_000  # a sanity bound (≈ 65 UCS-2 parts); the SMS network itself allows 255 parts
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True)
class Scheduled:
    id: int
    id_user: int
    at: float
    text: str
    id_phone: int | None
    flash: bool
    tag: str | None
    mms: bool
    state: str  # pending | done | cancelled


@dataclass(frozen=True)
class Destination:
    """One number of a scheduled SMS (``scheduled_number`` row)."""

    id: int
    number: str


_COLUMNS = "id, id_user, at, text, id_phone, flash, tag, mms, state"


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
    )


def normalize_number(number: str) -> str:
    """Strip spaces, dots, dashes and brackets; keep a leading ``+``. Raises StoreError when not a number."""
    cleaned = re.sub(r"[\s.\-()/]", "", number or "")
    if cleaned.startswith("00") and len(cleaned) > 4:
        cleaned = "+" + cleaned[2:]  # 0033… is the same number as +33…
    if not _NUMBER.match(cleaned):
        raise StoreError(f"invalid phone number {number!r}: expected +<country><number> or digits")
    return cleaned


async def create(
    db: Database,
    *,
    text: str,
    numbers: Sequence[str],
    now: float,
    at: float | None = None,
    id_phone: int | None = None,
    tag: str | None = None,
    flash: bool = False,
    id_user: int = 1,
) -> int:
    """Create a scheduled SMS (one text, one or more numbers; ``at`` None = now). Returns its id.

    Raises StoreError with a message fit for the API user on an empty text, no or bad numbers, or an
    unknown phone. Numbers are normalised and de-duplicated (one SMS per destination).
    """
    if not isinstance(text, str) or not text:
        raise StoreError("text must not be empty")
    if len(text) > MAX_TEXT:
        raise StoreError(f"text is too long ({len(text)} characters, at most {MAX_TEXT})")
    if isinstance(numbers, str):
        numbers = [numbers]
    cleaned: list[str] = []
    for n in numbers:
        c = normalize_number(str(n))
        if c not in cleaned:
            cleaned.append(c)
    if not cleaned:
        raise StoreError("at least one number is required")
    async with db.transaction() as conn:
        if id_phone is not None:
            cur = await conn.execute("SELECT id FROM phone WHERE id = ?", (int(id_phone),))
            if await cur.fetchone() is None:
                raise StoreError(f"unknown phone id {id_phone}")
        cur = await conn.execute(
            "INSERT INTO scheduled (id_user, at, text, id_phone, flash, tag, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (id_user, now if at is None else float(at), text, id_phone, int(bool(flash)), tag, now),
        )
        sid = cur.lastrowid
        assert sid is not None
        await conn.executemany(
            "INSERT INTO scheduled_number (id_scheduled, number) VALUES (?, ?)", [(sid, n) for n in cleaned]
        )
    return int(sid)


async def get(db: Database, id: int) -> Scheduled | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM scheduled WHERE id = ?", (id,))
    return None if row is None else _scheduled(row)


async def numbers_of(db: Database, ids: Sequence[int]) -> dict[int, list[str]]:
    """The numbers of each scheduled SMS, in the order they were given."""
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for r in await db.fetchall(
        f"SELECT id_scheduled, number FROM scheduled_number WHERE id_scheduled IN ({marks}) ORDER BY id",
        list(ids),
    ):
        out[r["id_scheduled"]].append(r["number"])
    return out


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
    """The numbers of a scheduled SMS that have no ``sended`` row yet."""
    rows = await db.fetchall(
        "SELECT n.id, n.number FROM scheduled_number n WHERE n.id_scheduled = ? AND NOT EXISTS ("
        "SELECT 1 FROM sended s WHERE s.scheduled_number = n.id) ORDER BY n.id",
        (id_scheduled,),
    )
    return [Destination(r[0], r[1]) for r in rows]


async def finish(conn: aiosqlite.Connection, id_scheduled: int | None) -> None:
    """A scheduled SMS is done once every one of its numbers has its sended row (caller's transaction)."""
    if id_scheduled is None:
        return
    await conn.execute(
        "UPDATE scheduled SET state = 'done' WHERE id = ? AND state = 'pending' AND NOT EXISTS ("
        "SELECT 1 FROM scheduled_number n WHERE n.id_scheduled = scheduled.id AND NOT EXISTS ("
        "SELECT 1 FROM sended s WHERE s.scheduled_number = n.id))",
        (id_scheduled,),
    )
