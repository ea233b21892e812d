"""Turning an event into outbox rows: one per subscribed webhook, each with its own random id and
RaspiSMS signature, made here once so that every retry of a delivery carries the same ones.

The one place (with the dispatcher's Standard Webhooks headers) that holds the API key; the store
only keeps what this hands it.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from ..clock import Clock
from ..errors import DeliveryError
from ..store import outbox
from . import events, signing
from .events import WEBHOOK_TYPES

__all__ = ["EventSink"]


class EventSink:
    def __init__(self, api_key: str, clock: Clock) -> None:
        self._api_key = api_key
        self._clock = clock

    async def emit(self, conn: aiosqlite.Connection, type: str, body: dict[str, Any]) -> list[int]:
        """Queue one event inside the caller's transaction (the rows commit with the data); returns the
        ids of its outbox rows (none when no enabled webhook takes this type).

        ``body`` is the canonical body (:mod:`.events`); each webhook's row holds it in its flavour."""
        if type not in WEBHOOK_TYPES:
            raise DeliveryError(f"unknown webhook type {type!r}")
        now = self._clock.time()
        texts: dict[str, str] = {}
        rows = []
        for webhook_id, flavor in await outbox.subscribers(conn, type):
            if flavor not in texts:
                texts[flavor] = events.body_json(events.flavored(type, body, flavor), flavor)
            rows.append(self._row(webhook_id, type, texts[flavor], now))
        return await outbox.enqueue(conn, rows, now=now)

    async def emit_to(self, conn: aiosqlite.Connection, webhook_id: int, type: str, body: str) -> int:
        """Queue one row for ``webhook_id`` alone, ``body`` as given: a target's own document that is
        no webhook event (an MQTT job's status), with the same retries. Returns its outbox id."""
        now = self._clock.time()
        (row_id,) = await outbox.enqueue(conn, [self._row(webhook_id, type, body, now)], now=now)
        return row_id

    def _row(self, webhook_id: int, type: str, body: str, now: float) -> outbox.NewDelivery:
        timestamp = int(now)
        random_id = signing.new_random_id(timestamp)
        return outbox.NewDelivery(
            webhook_id=webhook_id,
            type=type,
            body=body,
            timestamp=timestamp,
            random_id=random_id,
            signature=signing.raspisms_signature(self._api_key, random_id),
        )
