"""The ``call`` table: one row per incoming call, opened at the first ring, closed at its end."""

from __future__ import annotations

import aiosqlite

__all__ = ["close_open", "end", "insert", "ring_again"]


async def insert(
    conn: aiosqlite.Connection, *, id_user: int, id_phone: int, uid: str, start: float, origin: str | None
) -> int:
    cur = await conn.execute(
        "INSERT INTO call (id_user, id_phone, uid, start, direction, origin, rings) "
        "VALUES (?, ?, ?, ?, 'inbound', ?, 1)",
        (id_user, id_phone, uid, start, origin),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def ring_again(conn: aiosqlite.Connection, id: int, *, rings: int, origin: str | None) -> None:
    """Another ring of the same call; a number given late (+CLIP after RING) fills the origin."""
    await conn.execute(
        "UPDATE call SET rings = ?, origin = COALESCE(origin, ?) WHERE id = ?", (rings, origin, id)
    )


async def end(conn: aiosqlite.Connection, id: int, *, at: float) -> None:
    await conn.execute("UPDATE call SET end = ? WHERE id = ? AND end IS NULL", (at, id))


async def close_open(conn: aiosqlite.Connection, *, at: float) -> int:
    """End every call still open (left so by a stop or crash); returns how many."""
    cur = await conn.execute("UPDATE call SET end = ? WHERE end IS NULL", (at,))
    return max(0, cur.rowcount)
