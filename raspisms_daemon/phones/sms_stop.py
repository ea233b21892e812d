"""SMS STOP as RaspiSMS 3.9.5 does it (controllers/internals/Received.php:113-137, SmsStop.php:74-78,
Scheduled.php:606): a received SMS whose whole text is "stop" or "stop sms" puts its sender on the
STOP list; the first STOP of a number is answered when a reply text is configured; an SMS to a number
on the list is skipped unless its tag is ``SMS_STOP`` (which the reply itself carries)."""

from __future__ import annotations

import logging

import aiosqlite

from ..store import scheduled as scheduled_store
from ..store import smsstop as store
from ..templating import TemplateFailure, render
from ..texts import trim
from .context import PhoneContext

__all__ = ["STOP_TAG", "is_stop_request", "take_stop"]

log = logging.getLogger("raspisms_daemon.phones.sms_stop")

STOP_TAG = "SMS_STOP"  # RaspiSMS's SmsStop::SMS_STOP_TAG (models/SmsStop.php:16)


def is_stop_request(text: str) -> bool:
    """RaspiSMS's rule: the text, lower-cased and trimmed, is exactly "stop" or "stop sms"."""
    return trim(text.lower()) in ("stop", "stop sms")


async def take_stop(
    ctx: PhoneContext, conn: aiosqlite.Connection, *, text: str, origin: str, id_phone: int, id_received: int
) -> bool:
    """Inside the transaction that stores a received SMS: when it is a STOP request, put ``origin`` on
    the list and, the first time and when a reply is configured, schedule the reply (tagged
    ``SMS_STOP``, sent by the phone that received the STOP). True when the number was added."""
    if not is_stop_request(text):
        return False
    now = ctx.now()
    if not await store.add(conn, origin, at=now, id_phone=id_phone, id_received=id_received):
        return False  # on the list already: no second reply
    log.info("%s asked SMS STOP: added to the STOP list", origin, extra={"phone_id": id_phone})
    if ctx.sms_stop and ctx.stop_reply:
        reply = ctx.stop_reply
        if ctx.templating:
            try:
                reply = render(reply, {}, {"number": origin})
            except TemplateFailure as exc:  # checked with the config; kept as written if it still fails
                log.warning("[sms_stop] reply does not render (%s): sent as written", exc)
        await scheduled_store.insert(
            conn, text=reply, numbers=[origin], now=now, id_phone=id_phone, tag=STOP_TAG, id_user=ctx.user_id
        )
    return True
