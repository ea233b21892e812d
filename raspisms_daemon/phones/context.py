"""What the phone parts (supervisor, intake, sender, calls, jobs) share: the store, the clock, the
event sink, and the counters ``/metrics`` shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from ..clock import Clock
from ..store.db import Database
from ..webhooks.emit import EventSink

__all__ = ["MODEM_TIMEOUT", "PhoneContext"]

MODEM_TIMEOUT = 30.0  # any single modem operation (delete, hangup, identity); send has its own


def _noop() -> None:
    return None


@dataclass
class PhoneContext:
    db: Database
    sink: EventSink
    clock: Clock
    user_id: int = 1
    sms_stop: bool = True  # [sms_stop] enabled: sends to numbers on the STOP list are skipped
    stop_reply: str = ""  # [sms_stop] reply: answered to a number's first STOP ("": none)
    templating: bool = True  # [api] templating: the STOP reply is a template too
    multipart_timeout: float = 86400.0
    wake_dispatcher: Callable[[], None] = _noop
    wake_sender: Callable[[], None] = _noop
    counters: dict[str, float] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock.time()

    def local(self, ts: float) -> datetime:
        """Unix seconds → the daemon's local time (webhook dates are local, as RaspiSMS's)."""
        return self.clock.local(ts)

    async def emit(self, conn: aiosqlite.Connection, type: str, body: dict[str, Any]) -> list[int]:
        """Queue one webhook event inside the caller's transaction (outbox rows commit with the data)."""
        return await self.sink.emit(conn, type, body)

    def count(self, name: str, n: float = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n
