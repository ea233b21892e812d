"""What the MQTT link keeps in the database: its delivery target (a ``webhook`` row of kind ``mqtt``,
so that events reach the broker from the same outbox, with the same retries, dead letters and replay),
the send jobs it took (``mqtt_job``, one row per client job id) and the retained topics it published
(``mqtt_retained``).

Functions take an ``aiosqlite.Connection``; the ones that write run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import aiosqlite

from ..errors import DeliveryError
from ..webhooks.events import WEBHOOK_TYPES

__all__ = [
    "TARGET_NAME",
    "Job",
    "add_job",
    "disable_target",
    "find_jobs",
    "forget_retained",
    "job_of_sended",
    "remember_retained",
    "retained_topics",
    "sync_target",
]

TARGET_NAME = "mqtt"  # the target's name in ``webhooks list``, ``deliveries --webhook`` and the API


class Job(NamedTuple):
    job_id: str
    id_scheduled: int | None  # None: refused
    error: str | None


async def sync_target(conn: aiosqlite.Connection, url: str, *, now: float) -> int:
    """The MQTT target's row, created or brought up to date from ``[mqtt]``; its id. Every event type
    goes to the broker (subscribers choose by topic), as one JSON document like ``format = json``."""
    types = ",".join(WEBHOOK_TYPES)
    async with conn.execute("SELECT id, kind FROM webhook WHERE name = ?", (TARGET_NAME,)) as cur:
        row = await cur.fetchone()
    if row is None:
        async with conn.execute(
            "INSERT INTO webhook (name, url, types, format, enabled, source, created_at, kind) "
            "VALUES (?, ?, ?, 'json', 1, 'config', ?, 'mqtt')",
            (TARGET_NAME, url, types, now),
        ) as cur:
            assert cur.lastrowid is not None
            return cur.lastrowid
    if row["kind"] != "mqtt":
        raise DeliveryError(
            f"a webhook is named {TARGET_NAME!r}, the name of the [mqtt] broker's target: "
            f"rename it (raspisms-daemon webhooks remove {TARGET_NAME}, then add it under another name)"
        )
    # Enabled again when [mqtt] is back (a disabled target keeps its pending rows meanwhile).
    await conn.execute(
        "UPDATE webhook SET url = ?, types = ?, format = 'json', flavor = 'documented', enabled = 1, "
        "disabled_reason = NULL WHERE id = ?",
        (url, types, row["id"]),
    )
    return int(row["id"])


async def disable_target(conn: aiosqlite.Connection) -> None:
    """``[mqtt]`` is gone from the config: nothing more is queued for the broker; what is pending stays."""
    await conn.execute(
        "UPDATE webhook SET enabled = 0, disabled_reason = 'no [mqtt] section in the config' "
        "WHERE kind = 'mqtt' AND enabled = 1"
    )


async def find_jobs(conn: aiosqlite.Connection, job_ids: Iterable[str]) -> dict[str, Job]:
    """The jobs already taken among ``job_ids``, by id."""
    ids = list(dict.fromkeys(job_ids))
    found: dict[str, Job] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            f"SELECT job_id, id_scheduled, error FROM mqtt_job WHERE job_id IN ({marks})",
            chunk,
        ) as cur:
            for r in await cur.fetchall():
                found[r[0]] = Job(r[0], r[1], r[2])
    return found


async def add_job(
    conn: aiosqlite.Connection,
    job_id: str,
    *,
    topic: str,
    id_scheduled: int | None,
    error: str | None,
    now: float,
) -> None:
    """Record a job taken (``id_scheduled``) or refused (``error``); the unique job id makes a second
    one with the same id fail loudly rather than schedule an SMS twice."""
    await conn.execute(
        "INSERT INTO mqtt_job (job_id, id_scheduled, topic, error, received_at) VALUES (?, ?, ?, ?, ?)",
        (job_id, id_scheduled, topic, error, now),
    )


async def job_of_sended(conn: aiosqlite.Connection, sended_id: int) -> tuple[str, str | None] | None:
    """``(job id, the SMS's recorded error)`` when this ``sended`` row is a job's SMS."""
    async with conn.execute(
        "SELECT j.job_id, s.error FROM sended s JOIN mqtt_job j ON j.id_scheduled = s.originating_scheduled "
        "WHERE s.id = ? AND j.id_scheduled IS NOT NULL",
        (sended_id,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else (str(row[0]), row[1])


async def retained_topics(conn: aiosqlite.Connection) -> set[str]:
    async with conn.execute("SELECT topic FROM mqtt_retained") as cur:
        return {r[0] for r in await cur.fetchall()}


async def remember_retained(conn: aiosqlite.Connection, topics: Iterable[str], *, now: float) -> None:
    await conn.executemany(
        "INSERT OR IGNORE INTO mqtt_retained (topic, published_at) VALUES (?, ?)", [(t, now) for t in topics]
    )


async def forget_retained(conn: aiosqlite.Connection, topics: Iterable[str]) -> None:
    await conn.executemany("DELETE FROM mqtt_retained WHERE topic = ?", [(t,) for t in topics])
