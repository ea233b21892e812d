"""The ``phone`` table: one row per ``[phone:ID]``, what the supervisor last knew of it, and a disable
(by the owner or the reliability check) that outlives restarts."""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from ..config import PhoneConfig
from .db import Database

__all__ = ["disabled_phones", "record_status", "set_disabled", "set_enabled", "sync_config_phones", "upsert"]


async def upsert(
    conn: aiosqlite.Connection,
    *,
    id: int,
    name: str,
    backend: str,
    device: str,
    enabled: bool,
    group: int | None = None,
    priority: int = 0,
) -> None:
    """Insert or refresh a configured phone; keeps its identity and a disable across restarts."""
    await conn.execute(
        "INSERT INTO phone (id, name, backend, device, status, id_phone_group, priority) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, backend = excluded.backend, "
        "device = excluded.device, id_phone_group = excluded.id_phone_group, priority = excluded.priority",
        (id, name, backend, device, "disconnected" if enabled else "disabled", group, priority),
    )
    if not enabled:
        await conn.execute("UPDATE phone SET status = 'disabled' WHERE id = ?", (id,))


async def sync_config_phones(conn: aiosqlite.Connection, phones: Iterable[PhoneConfig]) -> None:
    """:func:`upsert` every phone of the config."""
    for p in phones:
        await upsert(
            conn,
            id=p.id,
            name=p.name,
            backend=p.backend,
            device=p.device,
            enabled=p.enabled,
            group=p.group,
            priority=p.priority,
        )


async def set_disabled(conn: aiosqlite.Connection, id: int, *, at: float, reason: str) -> None:
    """Stop sending with a phone (owner or reliability auto-disable); kept across restarts."""
    await conn.execute(
        "UPDATE phone SET status = 'disabled', disabled_at = ?, disabled_reason = ? WHERE id = ?",
        (at, reason, id),
    )


async def set_enabled(conn: aiosqlite.Connection, id: int) -> None:
    """Undo :func:`set_disabled` (the status column follows with the next status record)."""
    await conn.execute("UPDATE phone SET disabled_at = NULL, disabled_reason = NULL WHERE id = ?", (id,))


async def disabled_phones(db: Database) -> dict[int, str | None]:
    """``{phone id: reason}`` of the phones a disable (not the config) keeps from sending."""
    rows = await db.fetchall("SELECT id, disabled_reason FROM phone WHERE disabled_at IS NOT NULL")
    return {r["id"]: r["disabled_reason"] for r in rows}


async def record_status(
    conn: aiosqlite.Connection,
    id: int,
    *,
    status: str,
    disabled_reason: str | None,
    imei: str | None,
    imsi: str | None,
    iccid: str | None,
    operator: str | None,
    signal: int | None,
    registration: str | None,
    last_seen: float | None,
) -> None:
    """What the supervisor knows of its phone; an identity field it could not read keeps its old value."""
    await conn.execute(
        "UPDATE phone SET status = ?, disabled_reason = ?, imei = COALESCE(?, imei), "
        "imsi = COALESCE(?, imsi), iccid = COALESCE(?, iccid), operator = COALESCE(?, operator), "
        "signal = ?, registration = ?, last_seen = ? WHERE id = ?",
        (status, disabled_reason, imei, imsi, iccid, operator, signal, registration, last_seen, id),
    )
