"""The durable outbox, and its whole state machine: one row per (event, webhook), kept until delivered
(then pruned) or dead.

    pending ──claim──▶ pending, leased ──2xx──▶ delivered ──(retention)──▶ pruned
       ▲                    │ failure: retry later (next_attempt_at), or ──▶ dead (no attempt left)
       └──── release / lease runs out / replay ◀──────────────────────────────────┘

:func:`enqueue` runs inside the caller's transaction, so an event's rows commit together with whatever
produced the event (the received SMS row, say): either both are on disk or neither is. The rows come
ready-made (random id and signature included, :mod:`raspisms_daemon.webhooks.emit`): the store holds
no key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from enum import Enum
from typing import Any, NamedTuple

import aiosqlite

from ..errors import StoreError

__all__ = [
    "Attempt",
    "Claimed",
    "Delivery",
    "DeliveryState",
    "NewDelivery",
    "Retry",
    "backlog_count",
    "claim_due",
    "count_by_state",
    "enqueue",
    "get_delivery",
    "list_attempts",
    "list_deliveries",
    "make_backlog_due",
    "mark_dead",
    "mark_delivered",
    "mark_local",
    "mark_retry",
    "next_due",
    "prune_delivered",
    "record_attempts",
    "release",
    "release_stale_leases",
    "replay_delivery",
    "subscribers",
]


class DeliveryState(Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Delivery(NamedTuple):
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


class Attempt(NamedTuple):
    outbox_id: int
    at: float
    status: int | None
    error: str | None
    duration_ms: float
    local: bool = False  # failed on this machine: not counted against the receiver

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "local": self.local,
        }


class NewDelivery(NamedTuple):
    """One outbox row to insert: the event for one webhook, signed once for every attempt."""

    webhook_id: int
    type: str
    body: str  # compact JSON
    timestamp: int
    random_id: str
    signature: str


class Claimed(NamedTuple):
    """A pending row claimed for delivery (leased until its result is recorded)."""

    id: int
    webhook_id: int
    type: str
    body: str
    timestamp: int
    random_id: str
    signature: str
    attempts: int


class Retry(NamedTuple):
    """A failed attempt that leaves the row pending, due again at ``next_attempt_at``."""

    id: int
    next_attempt_at: float
    error: str | None
    status: int | None


async def subscribers(conn: aiosqlite.Connection, type: str) -> list[tuple[int, str]]:
    """``(id, flavor)`` of the enabled webhooks subscribed to ``type``."""
    async with conn.execute("SELECT id, types, flavor FROM webhook WHERE enabled = 1 ORDER BY id") as cur:
        return [(r["id"], r["flavor"]) for r in await cur.fetchall() if type in r["types"].split(",")]


async def enqueue(conn: aiosqlite.Connection, rows: Sequence[NewDelivery], *, now: float) -> list[int]:
    """Insert pending rows, due at ``now``; returns their ids (caller's transaction, no commit)."""
    ids: list[int] = []
    for row in rows:
        async with conn.execute(
            "INSERT INTO outbox (webhook_id, type, body, timestamp, random_id, signature, state, attempts, "
            "next_attempt_at, created_at) VALUES (?,?,?,?,?,?,'pending',0,?,?)",
            (row.webhook_id, row.type, row.body, row.timestamp, row.random_id, row.signature, now, now),
        ) as cur:
            assert cur.lastrowid is not None
            ids.append(cur.lastrowid)
    return ids


def _not_in(ids: Collection[int]) -> tuple[str, list[int]]:
    """An `` AND id NOT IN (?, …)`` clause (empty when there are none) and its parameters."""
    if not ids:
        return "", []
    return f" AND id NOT IN ({','.join('?' * len(ids))})", list(ids)


async def claim_due(
    conn: aiosqlite.Connection,
    *,
    webhook_id: int,
    now: float,
    lease_until: float,
    limit: int,
    exclude: Collection[int] = (),
) -> list[Claimed]:
    """Lease up to ``limit`` rows of one webhook that are due at ``now`` (earliest first).

    A claimed row gets ``next_attempt_at = lease_until``: if its claimer dies, it is simply due again
    when the lease runs out. ``exclude``: rows the caller still holds (their result not yet recorded).
    """
    not_held, held = _not_in(exclude)
    async with conn.execute(
        "SELECT id, webhook_id, type, body, timestamp, random_id, signature, attempts "
        "FROM outbox INDEXED BY outbox_pending_due "
        f"WHERE state = 'pending' AND webhook_id = ? AND next_attempt_at <= ?{not_held} "
        "ORDER BY next_attempt_at LIMIT ?",
        (webhook_id, now, *held, limit),
    ) as cur:
        rows = [Claimed(*r) for r in await cur.fetchall()]
    if rows:
        await conn.executemany(
            "UPDATE outbox SET next_attempt_at = ?, lease_until = ? WHERE id = ?",
            [(lease_until, lease_until, r.id) for r in rows],
        )
    return rows


async def next_due(
    conn: aiosqlite.Connection, *, webhook_id: int, exclude: Collection[int] = ()
) -> float | None:
    """When the earliest pending row of a webhook (not in ``exclude``) is due; None when there is none."""
    not_held, held = _not_in(exclude)
    async with conn.execute(
        "SELECT MIN(next_attempt_at) FROM outbox INDEXED BY outbox_pending_due "
        f"WHERE state = 'pending' AND webhook_id = ?{not_held}",
        (webhook_id, *held),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else float(row[0])


async def release(conn: aiosqlite.Connection, ids: Iterable[int], *, now: float) -> None:
    """Give claimed rows back, due at ``now`` (still pending: another claim sends them)."""
    await conn.executemany(
        "UPDATE outbox SET next_attempt_at = ?, lease_until = NULL WHERE id = ? AND state = 'pending'",
        [(now, i) for i in ids],
    )


async def record_attempts(conn: aiosqlite.Connection, attempts: Iterable[Attempt]) -> None:
    """Log attempts (a local one did not count: see :func:`mark_local`)."""
    await conn.executemany(
        "INSERT INTO delivery_attempt (outbox_id, at, status, error, duration_ms, local) "
        "VALUES (?,?,?,?,?,?)",
        [(a.outbox_id, a.at, a.status, a.error, round(a.duration_ms, 1), int(a.local)) for a in attempts],
    )


async def mark_delivered(conn: aiosqlite.Connection, rows: Iterable[tuple[int, int]], *, at: float) -> None:
    """``(id, HTTP status)`` of rows a receiver accepted."""
    await conn.executemany(
        "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = ?, last_status = ?, "
        "last_error = NULL, lease_until = NULL WHERE id = ? AND state = 'pending'",
        [(at, status, i) for i, status in rows],
    )


async def mark_retry(conn: aiosqlite.Connection, rows: Iterable[Retry]) -> None:
    await conn.executemany(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, last_status = ?, "
        "lease_until = NULL WHERE id = ? AND state = 'pending'",
        [(r.next_attempt_at, r.error, r.status, r.id) for r in rows],
    )


async def mark_local(conn: aiosqlite.Connection, rows: Iterable[Retry]) -> None:
    """Rows whose attempt failed on this machine: due again, and the attempt not counted."""
    await conn.executemany(
        "UPDATE outbox SET next_attempt_at = ?, last_error = ?, last_status = ?, lease_until = NULL "
        "WHERE id = ? AND state = 'pending'",
        [(r.next_attempt_at, r.error, r.status, r.id) for r in rows],
    )


async def mark_dead(conn: aiosqlite.Connection, rows: Iterable[tuple[int, str | None, int | None]]) -> None:
    """``(id, error, HTTP status)`` of rows with no attempt left: kept, listed, replayable."""
    await conn.executemany(
        "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?, last_status = ?, "
        "lease_until = NULL WHERE id = ? AND state = 'pending'",
        [(error, status, i) for i, error, status in rows],
    )


async def make_backlog_due(conn: aiosqlite.Connection, *, webhook_id: int, now: float) -> None:
    """Every pending row of a webhook that waits out a backoff becomes due at ``now`` (the endpoint
    answers again, or was enabled again); rows being delivered keep their lease."""
    await conn.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND webhook_id = ? "
        "AND next_attempt_at > ? AND (lease_until IS NULL OR lease_until <= ?)",
        (now, webhook_id, now, now),
    )


_SELECT = (
    "SELECT o.id, o.webhook_id, w.name AS webhook, o.type, o.body, o.timestamp, o.random_id, o.signature, "
    "o.state, o.attempts, o.next_attempt_at, o.lease_until, o.last_error, o.last_status, o.created_at, "
    "o.delivered_at FROM outbox o JOIN webhook w ON w.id = o.webhook_id"
)


def _delivery(row: sqlite3.Row) -> Delivery:
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
        "SELECT outbox_id, at, status, error, duration_ms, local FROM delivery_attempt "
        "WHERE outbox_id = ? ORDER BY id",
        (int(delivery_id),),
    ) as cur:
        return [Attempt(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in await cur.fetchall()]


async def replay_delivery(conn: aiosqlite.Connection, delivery_id: int, *, now: float) -> Delivery:
    """Make a delivered or dead row pending and due now, with the same random id (receivers de-duplicate).

    Inside the caller's transaction. A pending row is only made due now (its attempt count is kept, so a
    replay never grants a failing endpoint extra retries by accident).
    """
    d = await get_delivery(conn, delivery_id)
    t = now
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
