"""Queries on the message tables (migration ``002_messages.sql``): scheduled, sended, received, phones.

Used by the local API (create/list/delete scheduled, RaspiSMS-style paged lists) and by the daemon.
Times are stored as unix seconds; lists return them formatted ``YYYY-MM-DD HH:MM:SS`` in local time,
as RaspiSMS shows them. Functions taking ``conn`` run inside the caller's transaction (no commit);
functions taking ``db`` open their own.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiosqlite

from ..errors import StoreError

if TYPE_CHECKING:
    from .db import Database

__all__ = [
    "PAGE_SIZE",
    "Page",
    "create_scheduled",
    "delete_scheduled",
    "fmt_time",
    "get_scheduled",
    "list_calls",
    "list_phones",
    "list_received",
    "list_scheduled",
    "list_sended",
    "normalize_number",
    "phone_disables",
    "record_phone_status",
    "set_phone_disabled",
    "set_phone_enabled",
    "upsert_phone",
]

PAGE_SIZE = 25  # RaspiSMS's API list page size
MAX_TEXT = 10_000  # a sanity bound (≈ 65 UCS-2 parts); the SMS network itself allows 255 parts
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True)
class Page:
    """One page of a RaspiSMS-style list; ``page`` is 0-based as in ``/api/list/{type}/{page}/``."""

    rows: list[dict[str, Any]]
    page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 0


def fmt_time(ts: float | None) -> str | None:
    """Unix seconds → local ``YYYY-MM-DD HH:MM:SS`` (the RaspiSMS date format), None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def normalize_number(number: str) -> str:
    """Strip spaces, dots, dashes and brackets; keep a leading ``+``. Raises StoreError when not a number."""
    cleaned = re.sub(r"[\s.\-()/]", "", number or "")
    if cleaned.startswith("00") and len(cleaned) > 4:
        cleaned = "+" + cleaned[2:]  # 0033… is the same number as +33…
    if not _NUMBER.match(cleaned):
        raise StoreError(f"invalid phone number {number!r}: expected +<country><number> or digits")
    return cleaned


# --- phones ---------------------------------------------------------------------------------------


async def upsert_phone(
    conn: aiosqlite.Connection, *, id: int, name: str, backend: str, device: str, enabled: bool
) -> None:
    """Insert or refresh a configured phone; keeps its identity and a reliability disable across restarts."""
    await conn.execute(
        "INSERT INTO phone (id, name, backend, device, status) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, backend = excluded.backend, "
        "device = excluded.device",
        (id, name, backend, device, "disconnected" if enabled else "disabled"),
    )
    if not enabled:
        await conn.execute("UPDATE phone SET status = 'disabled' WHERE id = ?", (id,))


async def set_phone_disabled(conn: aiosqlite.Connection, id: int, *, at: float, reason: str) -> None:
    """Stop sending with a phone (owner or reliability auto-disable); kept across restarts."""
    await conn.execute(
        "UPDATE phone SET status = 'disabled', disabled_at = ?, disabled_reason = ? WHERE id = ?",
        (at, reason, id),
    )


async def set_phone_enabled(conn: aiosqlite.Connection, id: int) -> None:
    """Undo :func:`set_phone_disabled` (the status column follows with the next status record)."""
    await conn.execute("UPDATE phone SET disabled_at = NULL, disabled_reason = NULL WHERE id = ?", (id,))


async def phone_disables(db: Database) -> dict[int, str | None]:
    """``{phone id: reason}`` of the phones a disable (not the config) keeps from sending."""
    rows = await db.fetchall("SELECT id, disabled_reason FROM phone WHERE disabled_at IS NOT NULL")
    return {r["id"]: r["disabled_reason"] for r in rows}


async def record_phone_status(
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


async def list_phones(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    return await _list(
        db,
        "SELECT id, name, backend, device, status, imei, iccid, operator, signal, registration, last_seen, "
        "disabled_reason FROM phone ORDER BY id",
        page,
        limit,
        times=("last_seen",),
    )


# --- scheduled ------------------------------------------------------------------------------------


async def create_scheduled(
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


def _scheduled_dict(row: sqlite3.Row, numbers: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "id_user": row["id_user"],
        "at": fmt_time(row["at"]),
        "text": row["text"],
        "id_phone": row["id_phone"],
        "flash": row["flash"],
        "tag": row["tag"],
        "mms": row["mms"],
        "numbers": numbers,
        "state": row["state"],
    }


async def _numbers(db: Database, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for r in await db.fetchall(
        f"SELECT id_scheduled, number FROM scheduled_number WHERE id_scheduled IN ({marks}) ORDER BY id", ids
    ):
        out[r["id_scheduled"]].append(r["number"])
    return out


async def get_scheduled(db: Database, id: int) -> dict[str, Any] | None:
    row = await db.fetchone("SELECT * FROM scheduled WHERE id = ?", (id,))
    if row is None:
        return None
    return _scheduled_dict(row, (await _numbers(db, [id]))[id])


async def list_scheduled(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    """Scheduled SMS not sent yet (RaspiSMS removes a scheduled row once sent), oldest due first."""
    rows = await _page(db, "SELECT * FROM scheduled WHERE state = 'pending' ORDER BY at, id", (), page, limit)
    nums = await _numbers(db, [r["id"] for r in rows])
    return _mk_page([_scheduled_dict(r, nums[r["id"]]) for r in rows], page, limit)


async def delete_scheduled(db: Database, id: int) -> bool:
    """Cancel a scheduled SMS that has not started sending. False when unknown, sent or being sent."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE scheduled SET state = 'cancelled' WHERE id = ? AND state = 'pending' "
            "AND NOT EXISTS (SELECT 1 FROM sended WHERE originating_scheduled = ?)",
            (id, id),
        )
        return cur.rowcount > 0


# --- sended / received / calls --------------------------------------------------------------------


async def list_sended(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    """Sent SMS, newest first, with RaspiSMS's fields (status: unknown | delivered | failed)."""
    return await _list(
        db,
        "SELECT id, at, text, destination, id_phone, status, flash, uid, tag, mms, originating_scheduled "
        "FROM sended ORDER BY id DESC",
        page,
        limit,
        times=("at",),
    )


async def list_received(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    """Received SMS, newest first, with RaspiSMS's fields."""
    return await _list(
        db,
        "SELECT id, at, text, origin, id_phone, status, command, mms FROM received ORDER BY id DESC",
        page,
        limit,
        times=("at",),
    )


async def list_calls(db: Database, page: int = 0, limit: int = PAGE_SIZE) -> Page:
    return await _list(
        db,
        "SELECT id, id_user, id_phone, uid, start, end, direction, origin, destination FROM call "
        "ORDER BY id DESC",
        page,
        limit,
        times=("start", "end"),
    )


async def _list(db: Database, sql: str, page: int, limit: int, *, times: tuple[str, ...]) -> Page:
    """One page of ``sql``'s rows as dicts, the ``times`` columns formatted as RaspiSMS shows dates."""
    rows = await _page(db, sql, (), page, limit)
    return _mk_page([{**dict(r), **{k: fmt_time(r[k]) for k in times}} for r in rows], page, limit)


async def _page(db: Database, sql: str, params: Sequence[Any], page: int, limit: int) -> list[sqlite3.Row]:
    if page < 0 or limit < 1:
        raise StoreError("page must be >= 0 and limit >= 1")
    # one row more than asked tells whether there is a next page
    return list(await db.fetchall(f"{sql} LIMIT ? OFFSET ?", (*params, limit + 1, page * limit)))


def _mk_page(rows: list[Any], page: int, limit: int) -> Page:
    return Page(rows=rows[:limit], page=page, has_next=len(rows) > limit)
