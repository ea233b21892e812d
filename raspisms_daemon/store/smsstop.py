"""The SMS STOP list: numbers that asked for no more SMS (RaspiSMS's ``smsstop`` table), and how many
sends to each were skipped because of it."""

from __future__ import annotations

from typing import NamedTuple

import aiosqlite

from .db import Database

__all__ = ["SKIPPED_STOP", "StopEntry", "add", "entries", "is_stopped", "remove"]

SKIPPED_STOP = "sms_stop"  # scheduled_number.skipped for a number on the list


class StopEntry(NamedTuple):
    id: int
    number: str
    id_phone: int | None  # the phone the STOP came in on; None when added by hand
    id_received: int | None
    at: float
    skipped: int  # sends skipped because of this entry
    last_skipped_at: float | None

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


async def add(
    conn: aiosqlite.Connection,
    number: str,
    *,
    at: float,
    id_phone: int | None = None,
    id_received: int | None = None,
) -> bool:
    """Put ``number`` on the list (caller's transaction); False when it was there already."""
    cur = await conn.execute(
        "INSERT INTO smsstop (number, id_phone, id_received, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (number) DO NOTHING",
        (number, id_phone, id_received, at),
    )
    return cur.rowcount > 0


async def remove(conn: aiosqlite.Connection, number: str) -> bool:
    """Take ``number`` off the list; False when it was not on it."""
    cur = await conn.execute("DELETE FROM smsstop WHERE number = ?", (number,))
    return cur.rowcount > 0


async def is_stopped(db: Database, number: str) -> bool:
    return await db.fetchone("SELECT 1 FROM smsstop WHERE number = ?", (number,)) is not None


async def entries(db: Database) -> list[StopEntry]:
    """The whole list, oldest first, with the sends it skipped."""
    rows = await db.fetchall(
        "SELECT s.id, s.number, s.id_phone, s.id_received, s.at, "
        "(SELECT COUNT(*) FROM scheduled_number n WHERE n.number = s.number AND n.skipped = ?), "
        "(SELECT MAX(n.skipped_at) FROM scheduled_number n WHERE n.number = s.number AND n.skipped = ?) "
        "FROM smsstop s ORDER BY s.id",
        (SKIPPED_STOP, SKIPPED_STOP),
    )
    return [StopEntry(*r) for r in rows]
