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
        timestamp = int(now)
        texts: dict[str, str] = {}
        rows = []
        for webhook_id, flavor in await outbox.subscribers(conn, type):
            if flavor not in texts:
                texts[flavor] = events.body_json(events.flavored(type, body, flavor), flavor)
            random_id = signing.new_random_id(timestamp)
            rows.append(
                outbox.NewDelivery(
                    webhook_id=webhook_id,
                    type=type,
                    body=texts[flavor],
                    timestamp=timestamp,
                    random_id=random_id,
                    signature=signing.raspisms_signature(self._api_key, random_id),
                )
            )
        return await outbox.enqueue(conn, rows, now=now)
