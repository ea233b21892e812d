"""The durable outbox: one row per (event, webhook), kept until delivered (then pruned) or dead.

:func:`enqueue_event` runs inside the caller's transaction, so an event's rows commit together with
whatever produced the event (the received SMS row, say): either both are on disk or neither is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiosqlite

from ..errors import DeliveryError, StoreError
from ..webhooks import events, signing
from ..webhooks.events import WEBHOOK_TYPES

__all__ = [
    "Attempt",
    "Delivery",
    "DeliveryState",
    "backlog_count",
    "count_by_state",
    "enqueue_event",
    "get_delivery",
    "list_attempts",
    "list_deliveries",
    "prune_delivered",
    "release_stale_leases",
    "replay_delivery",
]


class DeliveryState(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: int
    webhook: str
    type: str
    body: str
    timestamp: int
    random_id: str
    signature: str
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    lease_until: float | None
    last_error: str | None
    last_status: int | None
    created_at: float
    delivered_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook": self.webhook,
            "webhook_id": self.webhook_id,
            "type": self.type,
            "body": json.loads(self.body),
            "timestamp": self.timestamp,
            "random_id": self.random_id,
            "state": self.state.value,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
        }


@dataclass(frozen=True)
class Attempt:
    outbox_id: int
    at: float
    status: int | None
    error: str | None
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "status": self.status, "error": self.error, "duration_ms": self.duration_ms}


async def enqueue_event(
    conn: aiosqlite.Connection,
    *,
    type: str,
    body: dict[str, Any],
    timestamp: int,
    api_key: str,
    now: float | None = None,
) -> list[int]:
    """One pending outbox row per enabled webhook subscribed to ``type``; returns their ids.

    Runs inside the caller's transaction and does not commit. The random id and its signature are made
    here, once per (event, webhook), so every retry carries the same ones.
    """
    if type not in WEBHOOK_TYPES:
        raise DeliveryError(f"unknown webhook type {type!r}")
    body_text = events.body_json(body)
    t = time.time() if now is None else now
    async with conn.execute("SELECT id, types FROM webhook WHERE enabled = 1 ORDER BY id") as cur:
        hooks = [r["id"] for r in await cur.fetchall() if type in r["types"].split(",")]
    ids: list[int] = []
    for hook_id in hooks:
        random_id = signing.new_random_id(int(timestamp))
        signature = signing.raspisms_signature(api_key, random_id)
        async with conn.execute(
            "INSERT INTO outbox (webhook_id, type, body, timestamp, random_id, signature, state, attempts, "
            "next_attempt_at, created_at) VALUES (?,?,?,?,?,?,'pending',0,?,?)",
            (hook_id, type, body_text, int(timestamp), random_id, signature, t, t),
        ) as cur:
            assert cur.lastrowid is not None
            ids.append(cur.lastrowid)
    return ids


_SELECT = (
    "SELECT o.id, o.webhook_id, w.name AS webhook, o.type, o.body, o.timestamp, o.random_id, o.signature, "
    "o.state, o.attempts, o.next_attempt_at, o.lease_until, o.last_error, o.last_status, o.created_at, "
    "o.delivered_at FROM outbox o JOIN webhook w ON w.id = o.webhook_id"
)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        webhook=row["webhook"],
        type=row["type"],
        body=row["body"],
        timestamp=row["timestamp"],
        random_id=row["random_id"],
        signature=row["signature"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_until=row["lease_until"],
        last_error=row["last_error"],
        last_status=row["last_status"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )


async def list_deliveries(
    conn: aiosqlite.Connection,
    *,
    state: DeliveryState | str | None = None,
    webhook: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """Newest first."""
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        where.append("o.state = ?")
        params.append(DeliveryState(state).value)
    if webhook is not None:
        where.append("w.name = ?")
        params.append(webhook)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY o.id DESC LIMIT ?"
    params.append(max(0, int(limit)))
    async with conn.execute(sql, params) as cur:
        return [_delivery(r) for r in await cur.fetchall()]


async def get_delivery(conn: aiosqlite.Connection, delivery_id: int) -> Delivery:
    async with conn.execute(_SELECT + " WHERE o.id = ?", (int(delivery_id),)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise StoreError(f"no delivery with id {delivery_id}")
    return _delivery(row)


async def list_attempts(conn: aiosqlite.Connection, delivery_id: int) -> list[Attempt]:
    async with conn.execute(
        "SELECT outbox_id, at, status, error, duration_ms FROM delivery_attempt "
        "WHERE outbox_id = ? ORDER BY id",
        (int(delivery_id),),
    ) as cur:
        return [Attempt(r[0], r[1], r[2], r[3], r[4]) for r in await cur.fetchall()]


async def replay_delivery(
    conn: aiosqlite.Connection, delivery_id: int, *, now: float | None = None
) -> Delivery:
    """Make a delivered or dead row pending and due now, with the same random id (receivers de-duplicate).

    Inside the caller's transaction. A pending row is only made due now (its attempt count is kept, so a
    replay never grants a failing endpoint extra retries by accident).
    """
    d = await get_delivery(conn, delivery_id)
    t = time.time() if now is None else now
    if d.state is DeliveryState.PENDING:
        if d.lease_until is not None and d.lease_until > t:
            return d  # being delivered right now
        await conn.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (t, d.id))
    else:
        await conn.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_until = NULL, "
            "delivered_at = NULL WHERE id = ?",
            (t, d.id),
        )
    return await get_delivery(conn, d.id)


async def backlog_count(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def count_by_state(conn: aiosqlite.Connection) -> dict[str, int]:
    """Rows in each state, every state present (0 when none): ``{"pending": 3, "delivered": 0, …}``."""
    counts = {s.value: 0 for s in DeliveryState}
    async with conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state") as cur:
        for state, n in await cur.fetchall():
            counts[state] = int(n)
    return counts


async def release_stale_leases(conn: aiosqlite.Connection, *, now: float) -> int:
    """Make every leased pending row due at ``now``; returns how many (caller's transaction).

    Only for start-up: the leases were taken by a previous process of the one daemon that owns this
    file and that died (SIGKILL, power cut); without this they would wait out their lease (minutes).
    """
    cur = await conn.execute(
        "UPDATE outbox SET next_attempt_at = ?, lease_until = NULL "
        "WHERE state = 'pending' AND lease_until IS NOT NULL",
        (now,),
    )
    return max(0, cur.rowcount)


async def prune_delivered(conn: aiosqlite.Connection, *, before: float, batch: int = 500) -> int:
    """Delete up to ``batch`` delivered rows older than ``before`` and their attempts (caller's transaction).

    Small batches keep each write transaction short, so a modem's transaction never waits long behind it.
    """
    async with conn.execute(
        # INDEXED BY: without ANALYZE statistics the planner may prefer (state, id) and sort a million rows.
        "SELECT id FROM outbox INDEXED BY outbox_delivered_at WHERE state = 'delivered' AND delivered_at < ? "
        "ORDER BY delivered_at LIMIT ?",
        (before, batch),
    ) as cur:
        ids: Sequence[int] = [r[0] for r in await cur.fetchall()]
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    await conn.execute(f"DELETE FROM delivery_attempt WHERE outbox_id IN ({marks})", ids)
    await conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)
    return len(ids)
