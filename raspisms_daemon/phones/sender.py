"""Sending scheduled SMS (docs/design.md §6) and applying delivery reports to what was sent.

Destinations are taken in due order, each handed to a phone as soon as one is free: one destination in
flight per phone at a time, so that several modems send side by side (a network takes seconds to answer
``AT+CMGS``). For each destination:

1. a ``sended`` row in state ``sending`` is committed **before** the PDU goes to the modem;
2. the modem accepts (``+CMGS: <mr>`` per part) → state ``sent``, one ``sended_part`` per part with its
   TP-MR, ``send_sms`` (status ``unknown``) — one transaction;
   the modem refuses → transient errors are retried with backoff, others (or too many) end ``failed``
   with ``send_sms`` (status ``failed``); parts go one by one, so a retry never re-sends a part the
   modem already accepted;
   no answer / the modem vanished mid-send → ``sent`` with status ``unknown``: it may have left.
3. a row found ``sending`` at start-up (the daemon died between 1 and 2) is never re-sent: it ends
   ``unknown`` with its ``send_sms`` — the truth is that we do not know.

A number on the SMS STOP list is skipped (its ``scheduled_number`` says so; no ``sended`` row, no
webhook, as in RaspiSMS) unless the SMS is tagged ``SMS_STOP``.

Which phone (RaspiSMS's ``Scheduled::get_smss_to_send``, with priorities always honoured): the one the
SMS names, or when it names a group, or nothing, one of the phones that can send now (of that group,
or any): the highest ``priority``, then at random. When the phone an SMS names cannot send (link down,
disabled) and it belongs to a group, another phone of the group that can send takes the SMS
(failover); without a group the SMS waits for its phone (or fails when that phone is disabled).

Transient ``+CMS ERROR`` codes (retried): 38 network out of order, 41 temporary failure, 42 congestion,
47 resources unavailable, 314 SIM busy, 330 SMSC address unknown (right after boot), 331 no network
service, 332 network timeout, 500 unknown error (what most modems say while the SMSC is not known yet),
515 please wait (init in progress). ``+CME ERROR`` 14 (SIM busy) and 515 likewise.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Mapping, Sequence, Set
from typing import TYPE_CHECKING

import aiosqlite

from ..clock import sleep_or_until, within
from ..errors import CmeError, CmsError, LinkError, ModemError, PduError
from ..gsm.pdu import SubmitPart, encode_submit
from ..store import scheduled as scheduled_store
from ..store import sent as store
from ..store import smsstop
from ..store.faults import StorageFault
from ..store.scheduled import Destination, Scheduled
from ..webhooks import events
from .context import PhoneContext
from .reports import apply_report
from .sms_stop import STOP_TAG

if TYPE_CHECKING:
    from .supervisor import PhoneSupervisor

__all__ = [
    "RETRY_DELAYS",
    "TRANSIENT_CME",
    "TRANSIENT_CMS",
    "Sender",
    "is_transient",
    "recover_interrupted_sends",
]

log = logging.getLogger("raspisms_daemon.phones.sender")

TRANSIENT_CMS = frozenset({38, 41, 42, 47, 314, 330, 331, 332, 500, 515})
TRANSIENT_CME = frozenset({14, 515})
RETRY_DELAYS = (2.0, 5.0, 15.0)  # then the SMS is failed
POLL_INTERVAL = 30.0  # due rows are also picked up without a wake-up (a missed wake loses nothing)
SEND_TIMEOUT = 60.0  # per part: +CMGS can take a while on a weak network
BATCH = 200  # due SMS read at a time


class _Busy(enum.Enum):
    """The phone(s) an SMS may use all have a send in flight: wait for one to finish."""

    BUSY = "busy"


_BUSY = _Busy.BUSY


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, CmsError):
        return exc.code in TRANSIENT_CMS
    if isinstance(exc, CmeError):
        return exc.code in TRANSIENT_CME
    return False


async def _emit_send_sms(ctx: PhoneContext, conn: aiosqlite.Connection, sended_id: int, status: str) -> None:
    r = await store.get(conn, sended_id)
    body = events.send_sms(
        id=r.id,
        at=ctx.local(r.at),
        status=status,
        origin=r.id_phone,
        destination=r.destination,
        text=r.text,
        originating_scheduled=r.originating_scheduled,
        tag=r.tag,
    )
    await ctx.emit(conn, "send_sms", body)


async def recover_interrupted_sends(ctx: PhoneContext) -> int:
    """Rows left ``sending`` by a crash end ``sent``/``unknown`` with their ``send_sms``; never re-sent."""
    async with ctx.db.transaction() as conn:
        rows = await store.interrupted(conn)
        for sended_id, id_scheduled in rows:
            await store.mark_interrupted(
                conn,
                sended_id,
                error="interrupted while sending: the daemon stopped before the modem answered",
            )
            await _emit_send_sms(ctx, conn, sended_id, "unknown")
            await scheduled_store.finish(conn, id_scheduled)
            log.warning(
                "SMS interrupted while sending: status unknown, not re-sent", extra={"sms_id": sended_id}
            )
    if rows:
        ctx.wake_dispatcher()
    return len(rows)


class Sender:
    """Picks due ``scheduled`` rows and sends them through the phones' supervisors."""

    def __init__(
        self,
        ctx: PhoneContext,
        phones: Mapping[int, PhoneSupervisor],
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        poll_interval: float = POLL_INTERVAL,
        rng: random.Random | None = None,
    ) -> None:
        self.ctx = ctx
        self.phones = phones
        self.retry_delays = tuple(retry_delays)
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._rng = rng or random.Random()

    def wake(self) -> None:
        self._wake.set()

    def stop_soon(self) -> None:
        """Finish the destination in hand, start no other (graceful shutdown)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            started = self.ctx.now()
            try:
                if not await self._writable():
                    return
                await self.process_due(now=started)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.ctx.db.health.report(exc):
                    log.exception("sending failed; retrying at the next wake-up")
            if self._stopping:
                return
            delay = await self._next_due_in(started)
            await sleep_or_until(self.ctx.clock, delay, self._wake)

    async def _writable(self) -> bool:
        """Storage trouble: claim nothing until a write works again. False: stopping meanwhile."""
        health = self.ctx.db.health
        while health.degraded and not self._stopping:
            self._wake.clear()
            waiters = {asyncio.ensure_future(w) for w in (health.wait_writable(), self._wake.wait())}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        return not self._stopping

    async def _next_due_in(self, since: float) -> float:
        """Until the next SMS that was not due yet when the last pass started (one that fell due during
        that pass: at once). Due ones waiting for a phone are not counted: a (re)connection wakes the
        sender, and the poll interval bounds the wait anyway (no busy loop meanwhile)."""
        at = await scheduled_store.next_due_at(self.ctx.db.reads, after=since)
        if at is None:
            return self.poll_interval
        return max(0.05, min(self.poll_interval, at - self.ctx.now()))

    async def process_due(self, now: float | None = None) -> int:
        """Send every destination due at ``now`` (default: the clock's now) that has a usable phone,
        page after page, one in flight per phone; returns how many were handled once all of them are
        done."""
        now = self.ctx.now() if now is None else now
        handled = 0
        after: tuple[float, int] | None = None
        flying: dict[int, asyncio.Task[None]] = {}  # phone id -> its send in flight
        try:
            while page := await scheduled_store.due(self.ctx.db.reads, now=now, limit=BATCH, after=after):
                after = (page[-1].at, page[-1].id)
                for sch in page:
                    numbers = await scheduled_store.unsent_numbers(self.ctx.db.reads, sch.id)
                    if not numbers:
                        async with self.ctx.db.transaction() as conn:
                            await scheduled_store.finish(conn, sch.id)
                        continue
                    for dest in numbers:
                        if self._stopping:
                            return handled
                        if await self._on_stop_list(sch, dest):
                            await self._skip(sch, dest, smsstop.SKIPPED_STOP)
                            handled += 1
                            continue
                        choice = await self._choose_free(sch, dest, flying)
                        if choice is None:
                            break  # no usable phone now; a (re)connection wakes us
                        if isinstance(choice, str):
                            await self._record_failed(sch, dest, sch.id_phone, choice)
                        else:
                            send = self._send_one(sch, dest, choice)
                            flying[choice.phone.id] = asyncio.create_task(send)
                        handled += 1
        finally:
            # Every send in flight finishes (or is cancelled with us) before this returns; the first
            # failure among them is raised.
            results = await asyncio.gather(*flying.values(), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return handled

    async def _choose_free(
        self, sch: Scheduled, dest: Destination, flying: dict[int, asyncio.Task[None]]
    ) -> PhoneSupervisor | str | None:
        """:meth:`_choose` among the phones with no send in flight, waiting for the one it wants to
        finish its send when it is busy."""
        while True:
            for pid, task in list(flying.items()):
                if task.done():
                    del flying[pid]
                    task.result()  # a send that failed unexpectedly: raised here, the others finish
            choice = self._choose(sch, dest, busy=set(flying))
            if choice is not _BUSY:
                return choice
            await asyncio.wait(flying.values(), return_when=asyncio.FIRST_COMPLETED)

    async def _on_stop_list(self, sch: Scheduled, dest: Destination) -> bool:
        if not self.ctx.sms_stop or sch.tag == STOP_TAG:
            return False
        return await smsstop.is_stopped(self.ctx.db.reads, dest.number)

    async def _skip(self, sch: Scheduled, dest: Destination, reason: str) -> None:
        async with self.ctx.db.transaction() as conn:
            await scheduled_store.skip(conn, dest.id, reason=reason, at=self.ctx.now())
            await scheduled_store.finish(conn, sch.id)
        self.ctx.count("sent_skipped_total")
        log.info(
            "SMS %d to %s skipped: the number is on the SMS STOP list (an SMS tagged %s reaches it)",
            sch.id,
            dest.number,
            STOP_TAG,
        )

    def _pick(
        self, candidates: Sequence[PhoneSupervisor], busy: Set[int] = frozenset()
    ) -> PhoneSupervisor | _Busy | None:
        """Among the phones that can send now: the highest priority, then one at random among those
        of them with no send in flight (``busy``: the ids of those that have one)."""
        usable = sorted((s for s in candidates if s.can_send), key=lambda s: s.phone.id)
        if not usable:
            return None
        top = max(s.phone.priority for s in usable)
        free = [s for s in usable if s.phone.priority == top and s.phone.id not in busy]
        return self._rng.choice(free) if free else _BUSY

    def _choose(
        self, sch: Scheduled, dest: Destination, busy: Set[int] = frozenset()
    ) -> PhoneSupervisor | str | _Busy | None:
        """The phone to send with; a string is why the SMS cannot be sent at all; None = wait for a
        phone that can send; ``_BUSY``: the phone(s) it may use are sending: wait for one to finish."""
        if sch.id_phone is not None:
            sup = self.phones.get(sch.id_phone)
            if sup is None:
                return f"phone {sch.id_phone} is not configured"
            if sup.can_send:
                return _BUSY if sup.phone.id in busy else sup
            why = f"disabled ({sup.disabled_reason})" if sup.disabled else sup.state.value
            group = sup.phone.group
            if group is not None:
                others = [s for s in self.phones.values() if s.phone.group == group and s is not sup]
                stand_in = self._pick(others, busy)
                if stand_in is _BUSY:
                    return _BUSY
                if stand_in is not None:
                    log.info(
                        "phone %d cannot send (%s): SMS %d to %s goes through phone %d of group %d",
                        sup.phone.id,
                        why,
                        sch.id,
                        dest.number,
                        stand_in.phone.id,
                        group,
                    )
                    return stand_in
                if sup.disabled and all(s.disabled for s in others):
                    return f"phone {sup.phone.id} is {why} and so is every other phone of group {group}"
                return None
            return f"phone {sup.phone.id} is {why}" if sup.disabled else None
        if sch.id_phone_group is not None:
            members = [s for s in self.phones.values() if s.phone.group == sch.id_phone_group]
            if not members:
                return f"no phone is configured in group {sch.id_phone_group}"
            if all(s.disabled for s in members):
                return f"every phone of group {sch.id_phone_group} is disabled"
            return self._pick(members, busy)
        if not self.phones:
            return "no phone is configured"
        if all(s.disabled for s in self.phones.values()):
            return "every phone is disabled"
        return self._pick(list(self.phones.values()), busy)

    async def _record_failed(
        self, sch: Scheduled, dest: Destination, id_phone: int | None, reason: str
    ) -> None:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as conn:
            if not await scheduled_store.is_pending(conn, sch.id):
                return  # cancelled meanwhile
            sended_id = await store.insert_sending(conn, sch, dest, id_phone, at=now, failed=reason)
            await _emit_send_sms(self.ctx, conn, sended_id, "failed")
            await scheduled_store.finish(conn, sch.id)
        self.ctx.wake_dispatcher()
        self.ctx.count("sent_failed_total")
        log.warning("SMS to %s failed: %s", dest.number, reason, extra={"sms_id": sended_id})

    async def _send_one(self, sch: Scheduled, dest: Destination, sup: PhoneSupervisor) -> None:
        phone_id = sup.phone.id
        try:
            parts = encode_submit(
                dest.number,
                sch.text if dest.text is None else dest.text,
                status_report=sup.phone.delivery_reports,
                concat_ref=random.randrange(256),
                flash=sch.flash,
            )
        except PduError as exc:
            await self._record_failed(sch, dest, phone_id, f"cannot encode: {exc}")
            return
        await sup.rate_wait(len(parts))
        if self._stopping or not sup.can_send:
            return  # nothing committed yet: sent later (next start, or when the phone is back)
        await self._send_parts(sch, dest, sup, parts)

    async def _send_parts(
        self, sch: Scheduled, dest: Destination, sup: PhoneSupervisor, parts: list[SubmitPart]
    ) -> None:
        phone_id = sup.phone.id
        started = self.ctx.now()
        async with self.ctx.db.transaction() as conn:
            sch_extra = {"scheduled_id": sch.id}
            # The claim: checked and taken in one transaction, so a cancel committed before it wins,
            # and one after it is refused (it finds this sending row).
            if not await scheduled_store.is_pending(conn, sch.id):
                log.info("SMS to %s cancelled before it was sent", dest.number, extra=sch_extra)
                return
            sended_id = await store.insert_sending(conn, sch, dest, phone_id, at=started)
        extra = {"phone_id": phone_id, "sms_id": sended_id}
        attempts = 1  # tries of this SMS: 1 + the retries after transient errors
        mrs: list[int] = []  # the TP-MR of each part the modem accepted, in order
        failure: str | None = None
        may_have_left = False  # no answer: the part in hand may have reached the network
        # Part by part, so that a retry re-sends only the part that failed: a part the modem accepted
        # has left, and sending it again would be a double send (docs/design.md §6).
        while len(mrs) < len(parts):
            which = f"part {len(mrs) + 1}/{len(parts)}" if len(parts) > 1 else "SMS"
            try:
                mrs += await within(sup.send(parts[len(mrs) : len(mrs) + 1]), SEND_TIMEOUT)
            except (LinkError, TimeoutError) as exc:
                # The PDU may have reached the network: never retried, the status stays unknown.
                failure = f"no answer from the modem while sending {which}: {exc or 'timeout'}"
                may_have_left = True
                log.warning("SMS to %s: %s; status unknown", dest.number, failure, extra=extra)
                break
            except ModemError as exc:
                if is_transient(exc) and attempts <= len(self.retry_delays):
                    delay = self.retry_delays[attempts - 1]
                    attempts += 1
                    log.info(
                        "SMS to %s: %s %s, retrying in %.0f s", dest.number, which, exc, delay, extra=extra
                    )
                    await self.ctx.clock.sleep(delay)
                    continue
                failure = f"{which} refused by the modem: {exc}"
                if mrs:
                    failure += f" (the {len(mrs)} part(s) before it had already left)"
                log.warning("SMS to %s: %s", dest.number, failure, extra=extra)
                break
        sent = len(mrs) == len(parts)
        now = self.ctx.now()
        while True:
            try:
                async with self.ctx.db.transaction() as conn:
                    if sent:
                        await store.mark_sent(
                            conn, sended_id, attempts=attempts, id_phone=phone_id, mrs=mrs, at=now
                        )
                        await _emit_send_sms(self.ctx, conn, sended_id, "unknown")
                        await self._apply_early_reports(conn, phone_id, mrs, started)
                    elif may_have_left:
                        await store.mark_unknown(conn, sended_id, attempts=attempts, error=failure)
                        await _emit_send_sms(self.ctx, conn, sended_id, "unknown")
                    else:
                        assert failure is not None
                        await store.mark_failed(conn, sended_id, attempts=attempts, error=failure, at=now)
                        await _emit_send_sms(self.ctx, conn, sended_id, "failed")
                    await scheduled_store.finish(conn, sch.id)
                break
            except StorageFault as fault:
                if not fault.transient:
                    raise  # the row stays 'sending': the next start records it as unknown, never re-sent
                # The SMS has left (or not) whatever the disk says: keep the outcome until it can be written.
                log.warning("cannot record the SMS yet (%s); retrying later", fault, extra=extra)
                if not await self._writable():
                    raise  # stopping: the row stays 'sending' and the next start records it as unknown
        self.ctx.wake_dispatcher()
        if sent:
            self.ctx.count("sent_total")
            log.info("SMS sent to %s (%d part(s), mr %s)", dest.number, len(mrs), mrs, extra=extra)
        else:
            self.ctx.count("sent_failed_total")

    async def _apply_early_reports(
        self, conn: aiosqlite.Connection, phone_id: int, mrs: list[int], since: float
    ) -> None:
        """Reports that beat this commit (the modem answers +CMGS, the report follows at once)."""
        for mr in set(mrs):
            for early in await store.early_reports(conn, id_phone=phone_id, mr=mr, since=since - 5.0):
                if await apply_report(
                    self.ctx, conn, id_phone=phone_id, mr=mr, number=early.number, outcome=early.outcome
                ):
                    await store.delete_unmatched_report(conn, early.id)
