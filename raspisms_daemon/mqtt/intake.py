"""Send jobs into the store: a batch of jobs read from the broker in one durable transaction, which the
link acknowledges to the broker only once it committed.

Each job becomes a scheduled SMS exactly as an API send does (RaspiSMS's number rules, templating,
duplicate numbers dropped: :func:`~raspisms_daemon.api.scheduling.destinations`, then
:func:`~raspisms_daemon.store.scheduled.insert`), its ``mqtt_job`` row (the client's id, unique: a job
delivered again is recognised and not scheduled twice) and its status row in the outbox (``accepted`` or
``refused``, published on ``…/sent/<id>`` like any event, with retries).
"""

from __future__ import annotations

import logging
import uuid

import aiosqlite

from ..api.envelope import ApiError
from ..api.scheduling import destinations
from ..clock import Clock
from ..errors import StoreError
from ..store import mqtt as mqtt_store
from ..store import scheduled as scheduled_store
from ..store.db import Database
from ..webhooks.emit import EventSink
from .jobs import JobRequest, Refusal
from .payloads import JOB_STATUS_TYPE, document_json, job_status
from .topics import Topics

__all__ = ["Intake"]

log = logging.getLogger("raspisms_daemon.mqtt")


class Intake:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        topics: Topics,
        *,
        sink: EventSink,
        target_id: int,
        templating: bool,
        user_id: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._topics = topics
        self._sink = sink
        self._target = target_id
        self._templating = templating
        self._user_id = user_id

    async def take(self, jobs: list[tuple[str, JobRequest | Refusal]]) -> int:
        """``(topic, job)`` pairs, in the order the broker sent them, committed in one durable
        transaction (raises what the store raises: nothing is taken then). Returns how many were
        taken before (delivered again by the broker: only acknowledged now)."""
        now = self._clock.time()
        named = [(topic, job) for topic, job in jobs if job.job_id is not None or isinstance(job, JobRequest)]
        for topic, job in jobs:
            if job.job_id is None and isinstance(job, Refusal):
                log.warning("send job on %s refused, with no id to answer on: %s", topic, job.reason)
        duplicates = 0
        async with self._db.transaction() as conn:
            seen = await mqtt_store.find_jobs(conn, [j.job_id for _, j in named if j.job_id is not None])
            taken: set[str] = set(seen)
            for topic, job in named:
                job_id = job.job_id if job.job_id is not None else f"notify-{uuid.uuid4().hex}"
                if job_id in taken:
                    duplicates += 1  # delivered again: committed before, acknowledged now
                    continue
                taken.add(job_id)
                reason = job.reason if isinstance(job, Refusal) else None
                sid: int | None = None
                if isinstance(job, JobRequest):
                    try:
                        sid = await self._schedule(conn, job, now)
                    except (ApiError, StoreError) as exc:
                        reason = exc.message if isinstance(exc, ApiError) else str(exc)
                await mqtt_store.add_job(conn, job_id, topic=topic, id_scheduled=sid, error=reason, now=now)
                if sid is not None:
                    doc = job_status(job_id, self._topics.gateway, "accepted", scheduled=sid)
                else:
                    log.warning("send job %s on %s refused: %s", job_id, topic, reason)
                    doc = job_status(job_id, self._topics.gateway, "refused", error=reason)
                await self._sink.emit_to(conn, self._target, JOB_STATUS_TYPE, document_json(doc))
        return duplicates

    async def _schedule(self, conn: aiosqlite.Connection, job: JobRequest, now: float) -> int:
        numbers = destinations(job.text, [(n, "[]") for n in job.numbers], templating=self._templating)
        return await scheduled_store.insert(
            conn,
            text=job.text,
            numbers=numbers,
            now=now,
            at=None if job.at is None else self._clock.from_local(job.at),
            id_phone=job.phone,
            tag=job.tag,
            id_user=self._user_id,
        )
