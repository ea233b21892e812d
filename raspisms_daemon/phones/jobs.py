"""Periodic housekeeping of the phone tables: incomplete multiparts, old bookkeeping rows."""

from __future__ import annotations

import asyncio
import logging

from ..store import received as received_store
from ..store import sent as sent_store
from .context import PhoneContext
from .intake import deliver_multipart
from .matching import MATCH_WINDOW

__all__ = ["TAKEN_IN_RETENTION", "flush_expired_multiparts", "housekeeping_loop", "prune"]

log = logging.getLogger("raspisms_daemon.phones")

TAKEN_IN_RETENTION = 30 * 86400.0  # a message still on the SIM after this long would be emitted again


async def flush_expired_multiparts(ctx: PhoneContext) -> int:
    """Deliver, with what arrived, every multipart message whose first part is older than the timeout."""
    delivered = 0
    for key in await received_store.expired_messages(
        ctx.db.reads, first_before=ctx.now() - ctx.multipart_timeout
    ):
        async with ctx.db.transaction() as conn:
            done = await deliver_multipart(ctx, conn, key, complete=False)
        if done is None:
            continue  # its last part came in meanwhile: the supervisor delivered it whole
        if done.stop:
            ctx.wake_sender()  # its reply is committed
        delivered += 1
        log.warning(
            "multipart SMS from %s delivered incomplete after %.0f s",
            key.origin,
            ctx.multipart_timeout,
            extra={"phone_id": key.id_phone, "sms_id": done.received_id},
        )
    if delivered:
        ctx.wake_dispatcher()
    return delivered


async def prune(ctx: PhoneContext) -> None:
    now = ctx.now()
    async with ctx.db.transaction() as conn:
        await received_store.prune_taken_in(conn, before=now - TAKEN_IN_RETENTION)
        await sent_store.prune_unmatched_reports(conn, before=now - MATCH_WINDOW)


async def housekeeping_loop(ctx: PhoneContext, interval: float = 60.0) -> None:
    while True:
        try:
            await flush_expired_multiparts(ctx)
            await prune(ctx)
        except Exception as exc:
            if not ctx.db.health.report(exc):
                log.exception("housekeeping failed")
        # How often to look is real time; what has expired is decided on ctx's clock.
        await asyncio.sleep(min(interval, max(1.0, ctx.multipart_timeout / 10)))
