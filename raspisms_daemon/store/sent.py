"""What was sent: one ``sended`` row per destination, one ``sended_part`` per part with the TP-MR the
modem gave it, and the delivery reports that arrived before their part was recorded.

A ``sended`` row goes ``sending`` (committed before the PDU goes to the modem) → ``sent`` (the modem
accepted every part, or may have: status ``unknown``) or ``failed``. Its ``status`` is RaspiSMS's:
``unknown`` until every part has a final report, then ``delivered`` or ``failed``. Writes run inside the
caller's transaction.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import NamedTuple

import aiosqlite

from .db import Database
from .scheduled import Destination, Scheduled

__all__ = [
    "EarlyReport",
    "PartCandidate",
    "Sent",
    "add_unmatched_report",
    "delete_unmatched_report",
    "early_reports",
    "finalize",
    "get",
    "insert_sending",
    "interrupted",
    "mark_failed",
    "mark_interrupted",
    "mark_sent",
    "mark_unknown",
    "part_candidates",
    "part_statuses",
    "prune_unmatched_reports",
    "sent_samples",
    "set_part_status",
]


class Sent(NamedTuple):
    id: int
    at: float
    text: str
    destination: str
    id_phone: int | None
    status: str  # unknown | delivered | failed
    state: str  # sending | sent | failed
    tag: str | None
    originating_scheduled: int | None


class PartCandidate(NamedTuple):
    """A recorded part carrying a given TP-MR, with the SMS it belongs to."""

    part_id: int
    status: str  # pending | delivered | failed
    sent_at: float
    id_sended: int
    destination: str


class EarlyReport(NamedTuple):
    id: int
    number: str
    outcome: str


async def insert_sending(
    conn: aiosqlite.Connection,
    sch: Scheduled,
    dest: Destination,
    id_phone: int | None,
    *,
    at: float,
    failed: str | None = None,
) -> int:
    """The ``sended`` row of one destination of ``sch``: ``sending``, or ``failed`` at once with the
    reason ``failed`` when it cannot be sent at all."""
    state, final_at = ("sending", None) if failed is None else ("failed", at)
    cur = await conn.execute(
        "INSERT INTO sended (at, text, destination, id_phone, status, state, flash, uid, tag, "
        "originating_scheduled, scheduled_number, error, final_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at,
            sch.text if dest.text is None else dest.text,
            dest.number,
            id_phone,
            "unknown" if failed is None else "failed",
            state,
            int(sch.flash),
            uuid.uuid4().hex,
            sch.tag,
            sch.id,
            dest.id,
            failed,
            final_at,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def get(conn: aiosqlite.Connection, id: int) -> Sent:
    async with conn.execute(
        "SELECT id, at, text, destination, id_phone, status, state, tag, originating_scheduled "
        "FROM sended WHERE id = ?",
        (id,),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None, f"no sended row {id}"
    return Sent(*row)


async def mark_sent(
    conn: aiosqlite.Connection, id: int, *, attempts: int, id_phone: int, mrs: Sequence[int], at: float
) -> None:
    """Every part accepted by the modem: ``sent``, with one pending ``sended_part`` per TP-MR."""
    await conn.execute("UPDATE sended SET state = 'sent', attempts = ? WHERE id = ?", (attempts, id))
    await conn.executemany(
        "INSERT INTO sended_part (id_sended, seq, id_phone, mr, status, sent_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?)",
        [(id, i + 1, id_phone, mr, at) for i, mr in enumerate(mrs)],
    )


async def mark_unknown(conn: aiosqlite.Connection, id: int, *, attempts: int, error: str | None) -> None:
    """The modem gave no answer: the SMS may have left (``sent``, status ``unknown``)."""
    await conn.execute(
        "UPDATE sended SET state = 'sent', status = 'unknown', attempts = ?, error = ? WHERE id = ?",
        (attempts, error, id),
    )


async def mark_failed(conn: aiosqlite.Connection, id: int, *, attempts: int, error: str, at: float) -> None:
    await conn.execute(
        "UPDATE sended SET state = 'failed', status = 'failed', attempts = ?, error = ?, final_at = ? "
        "WHERE id = ?",
        (attempts, error, at, id),
    )


async def interrupted(conn: aiosqlite.Connection) -> list[tuple[int, int | None]]:
    """``(id, originating_scheduled)`` of every row left ``sending`` (the daemon died mid-send)."""
    async with conn.execute("SELECT id, originating_scheduled FROM sended WHERE state = 'sending'") as cur:
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def mark_interrupted(conn: aiosqlite.Connection, id: int, *, error: str) -> None:
    await conn.execute(
        "UPDATE sended SET state = 'sent', status = 'unknown', error = ? WHERE id = ?", (error, id)
    )


async def part_candidates(
    conn: aiosqlite.Connection, *, id_phone: int, mr: int, since: float
) -> list[PartCandidate]:
    """Parts sent by this phone since ``since`` with this TP-MR (it wraps at 256: several may match)."""
    async with conn.execute(
        "SELECT p.id, p.status, p.sent_at, p.id_sended, s.destination FROM sended_part p "
        "JOIN sended s ON s.id = p.id_sended WHERE p.id_phone = ? AND p.mr = ? AND p.sent_at >= ?",
        (id_phone, mr, since),
    ) as cur:
        return [PartCandidate(*r) for r in await cur.fetchall()]


async def set_part_status(conn: aiosqlite.Connection, part_id: int, *, outcome: str, at: float) -> None:
    await conn.execute(
        "UPDATE sended_part SET status = ?, report_at = ? WHERE id = ?", (outcome, at, part_id)
    )


async def part_statuses(conn: aiosqlite.Connection, id_sended: int) -> list[str]:
    async with conn.execute("SELECT status FROM sended_part WHERE id_sended = ?", (id_sended,)) as cur:
        return [r[0] for r in await cur.fetchall()]


async def finalize(conn: aiosqlite.Connection, id_sended: int, *, status: str, at: float) -> bool:
    """Give the SMS its final status; False when it had one already (a report counted once)."""
    cur = await conn.execute(
        "UPDATE sended SET status = ?, final_at = ? WHERE id = ? AND status = 'unknown'",
        (status, at, id_sended),
    )
    return cur.rowcount > 0


async def add_unmatched_report(
    conn: aiosqlite.Connection, *, id_phone: int, mr: int, number: str, outcome: str, status: int, at: float
) -> None:
    """A report no recorded part matches yet: it may have beaten the sender's commit."""
    await conn.execute(
        "INSERT INTO unmatched_report (id_phone, mr, number, outcome, status, received_at) "
        "VALUES (?,?,?,?,?,?)",
        (id_phone, mr, number, outcome, status, at),
    )


async def early_reports(
    conn: aiosqlite.Connection, *, id_phone: int, mr: int, since: float
) -> list[EarlyReport]:
    async with conn.execute(
        "SELECT id, number, outcome FROM unmatched_report WHERE id_phone = ? AND mr = ? "
        "AND received_at >= ? ORDER BY id",
        (id_phone, mr, since),
    ) as cur:
        return [EarlyReport(*r) for r in await cur.fetchall()]


async def delete_unmatched_report(conn: aiosqlite.Connection, id: int) -> None:
    await conn.execute("DELETE FROM unmatched_report WHERE id = ?", (id,))


async def prune_unmatched_reports(conn: aiosqlite.Connection, *, before: float) -> None:
    await conn.execute("DELETE FROM unmatched_report WHERE received_at < ?", (before,))


async def sent_samples(db: Database, *, id_phone: int, since: float) -> list[tuple[float, str]]:
    """``(at, status)`` of what this phone sent since ``since`` (not the ones still being sent)."""
    rows: list[sqlite3.Row] = await db.fetchall(
        "SELECT at, status FROM sended WHERE id_phone = ? AND at >= ? AND state != 'sending'",
        (id_phone, since),
    )
    return [(r[0], r[1]) for r in rows]
