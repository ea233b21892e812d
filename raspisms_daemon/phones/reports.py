"""Applying a delivery report to what was sent: the part it is about, then the SMS once every part
has a final status (``delivered`` only if every part was)."""

from __future__ import annotations

import logging

import aiosqlite

from ..store import sent as store
from ..webhooks import events
from .context import PhoneContext
from .matching import MATCH_WINDOW, Candidate, pick_candidate

__all__ = ["apply_report"]

log = logging.getLogger("raspisms_daemon.phones.reports")


async def apply_report(
    ctx: PhoneContext, conn: aiosqlite.Connection, *, id_phone: int, mr: int, number: str, outcome: str
) -> bool:
    """Apply one status report inside the caller's transaction; False when no sent part matches.

    When every part of the SMS has a final status, the SMS gets its final status and
    ``send_sms_status_change`` is queued, once.
    """
    now = ctx.now()
    rows = await store.part_candidates(conn, id_phone=id_phone, mr=mr, since=now - MATCH_WINDOW)
    cand = pick_candidate(
        [Candidate(r.part_id, r.destination, r.sent_at, r.status) for r in rows], number, now
    )
    if cand is None:
        return False
    if outcome not in ("delivered", "failed") or cand.status != "pending":
        return True  # "still trying" reports and repeats change nothing
    await store.set_part_status(conn, cand.part_id, outcome=outcome, at=now)
    id_sended = next(r.id_sended for r in rows if r.part_id == cand.part_id)
    statuses = await store.part_statuses(conn, id_sended)
    if "pending" in statuses:
        return True
    final = "failed" if "failed" in statuses else "delivered"
    if await store.finalize(conn, id_sended, status=final, at=now):
        await ctx.emit(
            conn, "send_sms_status_change", events.send_sms_status_change(id=id_sended, status=final)
        )
        log.info("SMS %s", final, extra={"phone_id": id_phone, "sms_id": id_sended})
    return True
