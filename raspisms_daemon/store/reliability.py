"""``phone_reliability_history``: the alerts raised, each of which restarts its window."""

from __future__ import annotations

import aiosqlite

from .db import Database

__all__ = ["last_alert_at", "record_alert"]


async def last_alert_at(db: Database, *, id_phone: int, type: str) -> float | None:
    row = await db.fetchone(
        "SELECT MAX(created_at) FROM phone_reliability_history WHERE id_phone = ? AND type = ?",
        (id_phone, type),
    )
    return None if row is None or row[0] is None else float(row[0])


async def record_alert(conn: aiosqlite.Connection, *, id_phone: int, type: str, at: float) -> None:
    await conn.execute(
        "INSERT INTO phone_reliability_history (id_phone, type, created_at) VALUES (?, ?, ?)",
        (id_phone, type, at),
    )
