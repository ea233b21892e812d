"""Periodic housekeeping of the phone tables: incomplete multiparts, old bookkeeping rows."""

from __future__ import annotations

import asyncio
import logging

from .context import PhoneContext
from .matching import MATCH_WINDOW
from .supervisor import deliver_multipart

__all__ = ["TAKEN_IN_RETENTION", "flush_expired_multiparts", "housekeeping_loop", "prune"]

log = logging.getLogger("raspisms_daemon.phones")

TAKEN_IN_RETENTION = 30 * 86400.0  # a message still on the SIM after this long would be emitted again


async def flush_expired_multiparts(ctx: PhoneContext) -> int:
    """Deliver, with what arrived, every multipart message whose first part is older than the timeout."""
    cutoff = ctx.now() - ctx.multipart_timeout
    keys = await ctx.db.reads.fetchall(
        "SELECT id_phone, origin, ref, total FROM multipart_part GROUP BY id_phone, origin, ref, total "
        "HAVING MIN(received_at) <= ?",
        (cutoff,),
    )
    delivered = 0
    for k in keys:
        async with ctx.db.transaction() as conn:
            rid = await deliver_multipart(
                ctx,
                conn,
                id_phone=k["id_phone"],
                origin=k["origin"],
                ref=k["ref"],
                total=k["total"],
                complete=False,
            )
        if rid is None:
            continue  # its last part came in meanwhile: the supervisor delivered it whole
        delivered += 1
        log.warning(
            "multipart SMS from %s delivered incomplete after %.0f s",
            k["origin"],
            ctx.multipart_timeout,
            extra={"phone_id": k["id_phone"], "sms_id": rid},
        )
    if delivered:
        ctx.wake_dispatcher()
    return delivered


async def prune(ctx: PhoneContext) -> None:
    now = ctx.now()
    async with ctx.db.transaction() as conn:
        await conn.execute("DELETE FROM taken_in WHERE taken_at < ?", (now - TAKEN_IN_RETENTION,))
        await conn.execute("DELETE FROM unmatched_report WHERE received_at < ?", (now - MATCH_WINDOW,))


async def housekeeping_loop(ctx: PhoneContext, interval: float = 60.0) -> None:
    while True:
        try:
            await flush_expired_multiparts(ctx)
            await prune(ctx)
        except Exception:
            log.exception("housekeeping failed")
        await asyncio.sleep(min(interval, max(1.0, ctx.multipart_timeout / 10)))
