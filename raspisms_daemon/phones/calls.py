"""Incoming calls (docs/design.md §7): a ``call`` row and an ``inbound_call`` webhook at the first ring.

Later rings of the same call are counted; with ``hangup_calls = N`` the call is hung up at the N-th
ring (gate openers: the caller is not charged). The end of the call only updates the row: RaspiSMS
sends ``inbound_call`` once, when the call starts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from ..clock import within
from ..config import PhoneConfig
from ..errors import LinkError, ModemError
from ..store import calls as store
from ..webhooks import events
from .context import MODEM_TIMEOUT, PhoneContext

__all__ = ["CallTracker", "close_dangling_calls"]

log = logging.getLogger("raspisms_daemon.phones.calls")


class CallTracker:
    def __init__(self, phone: PhoneConfig, ctx: PhoneContext, hangup: Callable[[], Awaitable[None]]) -> None:
        self.phone = phone
        self.ctx = ctx
        self._hangup = hangup
        self.call_id: int | None = None
        self.rings = 0
        self._hung_up = False

    async def ringing(self, number: str | None) -> None:
        now = self.ctx.now()
        if self.call_id is None:
            uid = uuid.uuid4().hex
            async with self.ctx.db.transaction() as conn:
                call_id = await store.insert(
                    conn, id_user=self.ctx.user_id, id_phone=self.phone.id, uid=uid, start=now, origin=number
                )
                body = events.inbound_call(
                    id=call_id,
                    id_user=self.ctx.user_id,
                    id_phone=self.phone.id,
                    uid=uid,
                    start=self.ctx.local(now),
                    end=None,
                    origin=number,
                )
                await self.ctx.emit(conn, "inbound_call", body)
            self.call_id, self.rings, self._hung_up = call_id, 1, False
            self.ctx.wake_dispatcher()
            self.ctx.count("calls_total")
            log.info(
                "incoming call from %s",
                number or "a hidden number",
                extra={"phone_id": self.phone.id, "call_id": call_id},
            )
        else:
            self.rings += 1
            async with self.ctx.db.transaction() as conn:
                await store.ring_again(conn, self.call_id, rings=self.rings, origin=number)
        if self.phone.hangup_calls and self.rings >= self.phone.hangup_calls and not self._hung_up:
            self._hung_up = True
            try:
                await within(self._hangup(), MODEM_TIMEOUT)
            except (ModemError, LinkError, TimeoutError) as exc:
                log.warning("could not hang up: %s", exc, extra={"phone_id": self.phone.id})
            else:
                log.info("hung up after %d rings", self.rings, extra={"phone_id": self.phone.id})
                await self.ended()  # the modem reports no end for a call we hang up ourselves

    async def ended(self) -> None:
        if self.call_id is None:
            return
        call_id, self.call_id = self.call_id, None
        async with self.ctx.db.transaction() as conn:
            await store.end(conn, call_id, at=self.ctx.now())
        log.info(
            "call ended after %d rings", self.rings, extra={"phone_id": self.phone.id, "call_id": call_id}
        )


async def close_dangling_calls(ctx: PhoneContext) -> int:
    """Calls left open by a stop or crash end now: nobody is ringing a daemon that is starting."""
    async with ctx.db.transaction() as conn:
        return await store.close_open(conn, at=ctx.now())
