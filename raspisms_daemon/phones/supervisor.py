"""One phone: keeps its backend started, and turns each modem event into rows — in one transaction.

The ordering that makes "no message is ever lost" true lives here: for a stored SMS, the ``received``
row, its outbox rows (``enqueue_event``) and the ``taken_in`` bookkeeping commit together, and only
then is the backend asked to delete the message from the SIM. A message seen again (a crash between the
commit and ``AT+CMGD``, or the periodic sweep) matches its ``taken_in`` row: it is deleted, not emitted
twice. The backend reconnects by itself; the supervisor only restarts it when ``start`` itself fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import aiosqlite

from ..config import PhoneConfig
from ..errors import CmeError, LinkError, ModemError
from ..gsm.modem import (
    CallEnded,
    CallRinging,
    Disconnected,
    Identity,
    ModemBackend,
    ModemEvent,
    Reconnected,
    ReportReceived,
    SignalChanged,
    SmsReceived,
    UndecodableSms,
)
from ..gsm.pdu import DeliverPdu, SubmitPart
from ..store import messages
from ..webhooks import events
from .calls import CallTracker
from .context import MODEM_TIMEOUT, PhoneContext
from .multipart import Outcome, add_part, assemble
from .sender import apply_report

__all__ = ["START_BACKOFF", "PhoneState", "PhoneSupervisor", "deliver_multipart"]

log = logging.getLogger("raspisms_daemon.phones")

START_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # between failed starts; an attach skips the wait
# When taking a message in fails (the store refused: disk full, locked), retry after these delays.
# A stored message that is given up on stays on the SIM (the backend shows it again after a reconnect
# or at the next start); one the modem handed over directly (+CMT/+CDS) exists nowhere else, so giving
# up on it loses it, and its PDU goes to the log. Blocking the event stream meanwhile is deliberate:
# nothing else could be stored either.
TAKE_IN_RETRIES = (0.5, 1.0, 2.0, 5.0, 10.0)


class PhoneState(enum.Enum):
    STARTING = "starting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    DISABLED = "disabled"


def _noop() -> None:
    return None


def _slot_key(ev: SmsReceived | UndecodableSms | ReportReceived) -> str:
    """The content half of the taken-in key: the PDU, or a digest of the decoded fields when the
    backend sees no PDU (gammu), so that a new message in a reused slot is never mistaken for an old one."""
    if ev.pdu:
        return ev.pdu.upper()
    if isinstance(ev, SmsReceived):
        m = ev.message
        return f"sms|{m.number}|{m.scts.isoformat()}|{m.concat}|{m.text}"
    if isinstance(ev, ReportReceived):
        r = ev.report
        return f"report|{r.mr}|{r.number}|{r.scts.isoformat()}|{r.discharge.isoformat()}|{r.status}"
    return f"undecodable|{ev.error}"


async def deliver_multipart(
    ctx: PhoneContext,
    conn: aiosqlite.Connection,
    *,
    id_phone: int,
    origin: str,
    ref: int,
    total: int,
    complete: bool,
) -> int | None:
    """Turn the stored parts of one message into its ``received`` row and ``receive_sms`` (caller's tx).

    None when no part is stored (any more): nothing to deliver, never an empty SMS."""
    async with conn.execute(
        "SELECT seq, text, smsc, scts, received_at FROM multipart_part WHERE id_phone = ? AND origin = ? "
        "AND ref = ? AND total = ? ORDER BY seq",
        (id_phone, origin, ref, total),
    ) as cur:
        rows = list(await cur.fetchall())
    if not rows:
        return None
    text = assemble({r["seq"]: r["text"] for r in rows})
    now = ctx.now()
    cur2 = await conn.execute(
        "INSERT INTO received (at, text, origin, id_phone, smsc, scts, parts, complete) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (
            now,
            text,
            origin,
            id_phone,
            rows[0]["smsc"],
            rows[0]["scts"],
            len(rows),
            int(complete),
        ),
    )
    rid = cur2.lastrowid
    assert rid is not None
    await ctx.emit(
        conn,
        "receive_sms",
        events.receive_sms(id=rid, at=ctx.local(now), origin=origin, destination=id_phone, text=text),
    )
    await conn.execute(
        "DELETE FROM multipart_part WHERE id_phone = ? AND origin = ? AND ref = ? AND total = ?",
        (id_phone, origin, ref, total),
    )
    ctx.count("received_total")
    return rid


class PhoneSupervisor:
    def __init__(
        self,
        phone: PhoneConfig,
        backend: ModemBackend,
        ctx: PhoneContext,
        *,
        on_connected: Callable[[], None] = _noop,
        start_backoff: Sequence[float] = START_BACKOFF,
        rebuild: Callable[[PhoneConfig], ModemBackend] | None = None,
        take_in_retries: Sequence[float] = TAKE_IN_RETRIES,
    ) -> None:
        self.phone = phone
        self.backend = backend
        self.rebuild = rebuild  # a fresh backend after a failed start (gammu's cannot start twice)
        self.take_in_retries = tuple(take_in_retries)
        self.ctx = ctx
        self.on_connected = on_connected
        self.start_backoff = tuple(start_backoff)
        self.link = PhoneState.DISCONNECTED  # the modem link, whatever the disable says
        self.disabled_reason: str | None = None if phone.enabled else "disabled in the config"
        self.error: str | None = None  # why the phone gave up starting (a SIM that wants a code)
        self.identity = Identity()
        self.signal: int | None = None
        self.last_seen: float | None = None
        self.started = False
        self.calls = CallTracker(phone, ctx, self._hangup)
        self._attach = asyncio.Event()
        self.first_attempt = asyncio.Event()  # set once the first start succeeded or failed (READY)
        self._send_lock = asyncio.Lock()
        self._next_send_at = 0.0
        self._extra = {"phone_id": phone.id}

    # --- state seen by the sender, the API and the status line -------------------------------------

    @property
    def state(self) -> PhoneState:
        """DISABLED (config or reliability) wins over the link state."""
        return PhoneState.DISABLED if self.disabled_reason is not None else self.link

    @property
    def disabled(self) -> bool:
        return self.disabled_reason is not None

    @property
    def can_send(self) -> bool:
        return self.state is PhoneState.CONNECTED

    def disable(self, reason: str) -> None:
        """Stop sending with this phone (reliability auto-disable); receiving goes on."""
        self.disabled_reason = reason
        log.warning("phone disabled: %s", reason, extra=self._extra)

    def enable(self) -> None:
        """Undo :meth:`disable` (not a disable in the config: only the config undoes that)."""
        if self.phone.enabled and self.disabled_reason is not None:
            self.disabled_reason = None
            log.info("phone enabled again", extra=self._extra)

    def status(self) -> dict[str, Any]:
        return {
            "id": self.phone.id,
            "name": self.phone.name,
            "backend": self.phone.backend,
            "device": self.phone.device,
            "state": "connected"
            if self.state is PhoneState.CONNECTED
            else "disabled"
            if self.disabled
            else "disconnected",
            "disabled_reason": self.disabled_reason,
            "error": self.error,
            "imei": self.identity.imei,
            "iccid": self.identity.iccid,
            "operator": self.identity.operator,
            "signal": self.signal if self.signal is not None else self.identity.signal,
            "registration": self.identity.registration,
            "last_seen": None
            if self.last_seen is None
            else datetime.fromtimestamp(self.last_seen).astimezone().isoformat(timespec="seconds"),
        }

    # --- life cycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the backend (retrying), then handle its events until cancelled; stops it on the way out."""
        if not self.phone.enabled:
            self.first_attempt.set()
            return
        try:
            if not await self._start_until_up():
                return
            async for ev in self.backend.events():
                await self.handle(ev)
        finally:
            if self.started:
                try:
                    await asyncio.shield(asyncio.wait_for(self.backend.stop(), MODEM_TIMEOUT))
                except (ModemError, LinkError, TimeoutError, OSError) as exc:
                    log.warning("stopping the modem: %s", exc, extra=self._extra)

    async def _start_until_up(self) -> bool:
        """True once the backend runs; False when only the user can help (the SIM wants a code)."""
        failures = 0
        while True:
            self.link = PhoneState.STARTING
            try:
                await asyncio.wait_for(self.backend.start(), MODEM_TIMEOUT * 4)
                self.started = True
                break
            except (ModemError, LinkError, TimeoutError, OSError) as exc:
                self.first_attempt.set()
                if isinstance(exc, CmeError) and exc.sim_locked:
                    # Retrying cannot help and would only spend the SIM's PIN tries: wait for the user.
                    self.link = PhoneState.DISCONNECTED
                    self.error = str(exc)
                    log.error(
                        "phone %d stopped: %s; fix [phone:%d] pin (or unlock the SIM) and restart the daemon",
                        self.phone.id,
                        exc,
                        self.phone.id,
                        extra=self._extra,
                    )
                    await self.persist_status()
                    return False
                delay = self.start_backoff[min(failures, len(self.start_backoff) - 1)]
                failures += 1
                self.link = PhoneState.DISCONNECTED
                log.warning(
                    "modem %s not available (%s); retrying in %.0f s",
                    self.phone.device,
                    exc or type(exc).__name__,
                    delay,
                    extra=self._extra,
                )
                await self.persist_status()
                self._attach.clear()
                try:
                    await asyncio.wait_for(self._attach.wait(), delay)
                except TimeoutError:
                    pass
                if self.rebuild is not None:
                    with contextlib.suppress(ModemError, LinkError, TimeoutError, OSError):
                        await asyncio.wait_for(self.backend.stop(), MODEM_TIMEOUT)
                    self.backend = self.rebuild(self.phone)
        await self._connected()
        return True

    def retarget(self, device: str) -> None:
        """The phone was found on ``device`` (matched by IMEI/ICCID): use it from the next start on."""
        if device != self.phone.device:
            log.info("phone found on %s", device, extra=self._extra)
            self.phone = replace(self.phone, device=device)

    async def attach(self) -> None:
        """A device appeared (udev): retry at once instead of at the end of the backoff."""
        self._attach.set()
        if self.started:
            attach = getattr(self.backend, "attach", None)
            if attach is not None:
                try:
                    await asyncio.wait_for(attach(), MODEM_TIMEOUT)
                except (ModemError, LinkError, TimeoutError, OSError) as exc:
                    log.info("attach: %s", exc, extra=self._extra)

    async def _connected(self) -> None:
        self.link = PhoneState.CONNECTED
        self.last_seen = self.ctx.now()
        try:
            self.identity = await asyncio.wait_for(self.backend.identity(), MODEM_TIMEOUT)
            self.signal = self.identity.signal
        except (ModemError, LinkError, TimeoutError) as exc:
            log.warning("cannot read the modem identity: %s", exc, extra=self._extra)
        log.info(
            "phone connected (%s, IMEI %s, operator %s)",
            self.phone.device,
            self.identity.imei,
            self.identity.operator,
            extra=self._extra,
        )
        await self.persist_status()
        self.first_attempt.set()
        self.on_connected()

    async def persist_status(self) -> None:
        s = self.status()
        try:
            async with self.ctx.db.transaction() as conn:
                await messages.record_phone_status(
                    conn,
                    self.phone.id,
                    status=s["state"],
                    disabled_reason=self.disabled_reason,
                    imei=self.identity.imei,
                    imsi=self.identity.imsi,
                    iccid=self.identity.iccid,
                    operator=self.identity.operator,
                    signal=s["signal"],
                    registration=self.identity.registration,
                    last_seen=self.last_seen,
                )
        except Exception:
            log.exception("cannot record the phone status", extra=self._extra)

    # --- sending (used by the Sender) --------------------------------------------------------------

    async def rate_wait(self, parts: int) -> None:
        """Honour ``send_rate`` (parts per minute): wait for this phone's next free slot."""
        spacing = 60.0 / self.phone.send_rate if self.phone.send_rate > 0 else 0.0
        now = self.ctx.clock.monotonic()
        start = max(now, self._next_send_at)
        self._next_send_at = start + spacing * parts
        if start > now:
            await self.ctx.clock.sleep(start - now)

    async def send(self, parts: Sequence[SubmitPart]) -> list[int]:
        async with self._send_lock:
            return await self.backend.send(parts)

    async def _hangup(self) -> None:
        await self.backend.hangup()

    # --- events --------------------------------------------------------------------------------------

    async def handle(self, ev: ModemEvent) -> None:
        """Take one event in; a message whose transaction fails is retried (TAKE_IN_RETRIES)."""
        self.last_seen = self.ctx.now()
        if not isinstance(ev, SmsReceived | ReportReceived | UndecodableSms):
            await self._handle_once(ev)  # not retried: a call rings again, signal and link state recur
            return
        for delay in (*self.take_in_retries, None):
            if await self._handle_once(ev):
                return
            if delay is not None:
                log.warning("retrying in %.1f s", delay, extra=self._extra)
                await self.ctx.clock.sleep(delay)
        if ev.index is not None:
            log.error(
                "gave up taking in %s; it stays on the SIM and comes again after a reconnect or restart",
                type(ev).__name__,
                extra=self._extra,
            )
        else:
            log.error(
                "gave up taking in %s handed over directly by the modem; LOST, its PDU: %s",
                type(ev).__name__,
                ev.pdu or repr(ev),
                extra=self._extra,
            )

    async def _handle_once(self, ev: ModemEvent) -> bool:
        try:
            if isinstance(ev, SmsReceived):
                if ev.message.concat is not None and ev.message.concat.total > 1:
                    await self._take_part(ev)
                else:
                    await self._take_sms(ev)
            elif isinstance(ev, ReportReceived):
                await self._take_report(ev)
            elif isinstance(ev, UndecodableSms):
                await self._take_undecodable(ev)
            elif isinstance(ev, CallRinging):
                await self.calls.ringing(ev.number)
            elif isinstance(ev, CallEnded):
                await self.calls.ended()
            elif isinstance(ev, SignalChanged):
                self.signal = ev.rssi
            elif isinstance(ev, Disconnected):
                self.link = PhoneState.DISCONNECTED
                log.warning("phone disconnected: %s", ev.reason, extra=self._extra)
                await self.persist_status()
            elif isinstance(ev, Reconnected):
                await self._connected()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing was committed and nothing deleted: the message is still on the SIM.
            log.exception("could not take in %s", type(ev).__name__, extra=self._extra)
            return False
        return True

    async def _seen(
        self, conn: aiosqlite.Connection, ev: SmsReceived | UndecodableSms | ReportReceived
    ) -> bool:
        if ev.index is None:
            return False
        async with conn.execute(
            "SELECT 1 FROM taken_in WHERE id_phone = ? AND storage = ? AND sim_index = ? AND pdu = ?",
            (self.phone.id, ev.storage, ev.index, _slot_key(ev)),
        ) as cur:
            return await cur.fetchone() is not None

    async def _mark_taken(
        self,
        conn: aiosqlite.Connection,
        ev: SmsReceived | UndecodableSms | ReportReceived,
        kind: str,
        ref_id: int | None,
    ) -> None:
        if ev.index is None:
            return  # handed over directly (+CMT/+CDS): nothing on the SIM to delete or see again
        await conn.execute(
            "INSERT INTO taken_in (id_phone, storage, sim_index, pdu, kind, ref_id, taken_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (self.phone.id, ev.storage, ev.index, _slot_key(ev), kind, ref_id, self.ctx.now()),
        )

    async def _delete(self, ev: SmsReceived | UndecodableSms | ReportReceived) -> None:
        """Only ever called after the commit that took the message in."""
        if ev.index is None:
            return
        try:
            await asyncio.wait_for(self.backend.delete(ev.index, ev.storage), MODEM_TIMEOUT)
        except (ModemError, LinkError, TimeoutError) as exc:
            # Never a loss (it is committed). It is not retried blindly: the slot may hold a new message
            # by then. The backend's next sweep shows the message again, taken_in recognises it, and it
            # is deleted then.
            log.warning(
                "could not delete %s/%d from the SIM: %s", ev.storage, ev.index, exc, extra=self._extra
            )

    async def _take_sms(self, ev: SmsReceived) -> None:
        m: DeliverPdu = ev.message
        new_id: int | None = None
        async with self.ctx.db.transaction() as conn:
            if not await self._seen(conn, ev):
                now = self.ctx.now()
                cur = await conn.execute(
                    "INSERT INTO received (at, text, origin, id_phone, smsc, scts) VALUES (?,?,?,?,?,?)",
                    (now, m.text, m.number, self.phone.id, m.smsc, m.scts.isoformat()),
                )
                new_id = cur.lastrowid
                assert new_id is not None
                await self.ctx.emit(
                    conn,
                    "receive_sms",
                    events.receive_sms(
                        id=new_id,
                        at=self.ctx.local(now),
                        origin=m.number,
                        destination=self.phone.id,
                        text=m.text,
                    ),
                )
                await self._mark_taken(conn, ev, "sms", new_id)
        if new_id is not None:
            self.ctx.count("received_total")
            self.ctx.wake_dispatcher()
            log.info("SMS received from %s", m.number, extra={**self._extra, "sms_id": new_id})
        else:
            log.info("SMS %s/%s already taken in; deleting it", ev.storage, ev.index, extra=self._extra)
        await self._delete(ev)

    async def _take_part(self, ev: SmsReceived) -> None:
        m = ev.message
        assert m.concat is not None
        c = m.concat
        outcome: Outcome | None = None
        rid: int | None = None
        clash = False
        async with self.ctx.db.transaction() as conn:
            if not await self._seen(conn, ev):
                async with conn.execute(
                    "SELECT seq, text FROM multipart_part "
                    "WHERE id_phone = ? AND origin = ? AND ref = ? AND total = ?",
                    (self.phone.id, m.number, c.ref, c.total),
                ) as cur:
                    existing = {r["seq"]: r["text"] for r in await cur.fetchall()}
                outcome = add_part(existing, c.seq, c.total, m.text)
                clash = outcome is Outcome.CLASH
                if clash:
                    # This sender reused the reference while an older message still waits for a part:
                    # the older one is delivered with what arrived, and this part starts the new one.
                    await deliver_multipart(
                        self.ctx,
                        conn,
                        id_phone=self.phone.id,
                        origin=m.number,
                        ref=c.ref,
                        total=c.total,
                        complete=False,
                    )
                    outcome = add_part({}, c.seq, c.total, m.text)
                part_id: int | None = None
                if outcome is not Outcome.DUPLICATE:
                    cur2 = await conn.execute(
                        "INSERT INTO multipart_part "
                        "(id_phone, origin, ref, total, seq, text, smsc, scts, received_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?)",
                        (
                            self.phone.id,
                            m.number,
                            c.ref,
                            c.total,
                            c.seq,
                            m.text,
                            m.smsc,
                            m.scts.isoformat(),
                            self.ctx.now(),
                        ),
                    )
                    part_id = cur2.lastrowid
                if outcome is Outcome.COMPLETE:
                    rid = await deliver_multipart(
                        self.ctx,
                        conn,
                        id_phone=self.phone.id,
                        origin=m.number,
                        ref=c.ref,
                        total=c.total,
                        complete=True,
                    )
                await self._mark_taken(conn, ev, "part", rid or part_id)
        if clash:
            log.warning(
                "multipart SMS from %s delivered incomplete: a new message reuses its reference %d",
                m.number,
                c.ref,
                extra=self._extra,
            )
        if rid is not None or clash:
            self.ctx.wake_dispatcher()
        if rid is not None:
            log.info(
                "multipart SMS received from %s (%d parts)",
                m.number,
                c.total,
                extra={**self._extra, "sms_id": rid},
            )
        elif outcome is not None:
            log.debug("part %d/%d from %s (%s)", c.seq, c.total, m.number, outcome.value, extra=self._extra)
        await self._delete(ev)

    async def _take_report(self, ev: ReportReceived) -> None:
        r = ev.report
        matched: bool | None = None  # None: already taken in before
        async with self.ctx.db.transaction() as conn:
            if not await self._seen(conn, ev):
                matched = await apply_report(
                    self.ctx, conn, id_phone=self.phone.id, mr=r.mr, number=r.number, outcome=r.outcome
                )
                if not matched:
                    # It may have beaten the sender's commit; the sender looks here when it records parts.
                    await conn.execute(
                        "INSERT INTO unmatched_report (id_phone, mr, number, outcome, status, received_at) "
                        "VALUES (?,?,?,?,?,?)",
                        (self.phone.id, r.mr, r.number, r.outcome, r.status, self.ctx.now()),
                    )
                await self._mark_taken(conn, ev, "report", None)
        if matched is None:
            log.info("report %s/%s already taken in; deleting it", ev.storage, ev.index, extra=self._extra)
        else:
            self.ctx.wake_dispatcher()
            log.info(
                "delivery report mr=%d to %s: %s%s",
                r.mr,
                r.number,
                r.outcome,
                "" if matched else " (no match yet)",
                extra=self._extra,
            )
        await self._delete(ev)

    async def _take_undecodable(self, ev: UndecodableSms) -> None:
        kept = False
        async with self.ctx.db.transaction() as conn:
            if not await self._seen(conn, ev):
                cur = await conn.execute(
                    "INSERT INTO undecodable (id_phone, storage, sim_index, pdu, error, received_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (self.phone.id, ev.storage, ev.index, ev.pdu, ev.error, self.ctx.now()),
                )
                await self._mark_taken(conn, ev, "undecodable", cur.lastrowid)
                kept = True
        if kept:  # said once committed: a rolled-back transaction kept nothing
            log.error(
                "undecodable message kept raw in the 'undecodable' table (%s): %s",
                ev.error,
                ev.pdu,
                extra=self._extra,
            )
        await self._delete(ev)
