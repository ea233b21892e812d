"""One phone: keeps its backend started, takes each modem event in (one transaction, :mod:`.intake`),
and deletes a stored message from the SIM only after that commit. Stored messages that are ready
together (a sweep's listing, a burst) are taken in as a batch, with one transaction for all of them.

The backend reconnects by itself; the supervisor only restarts it when ``start`` itself fails.

While the store is degraded (disk full, the file deleted: :mod:`raspisms_daemon.store.health`) a
message is neither taken in nor deleted: it is *held* (it stays on the SIM) and taken in by
:meth:`PhoneSupervisor.retake_held` once a write works again; the file is checked again right before
every delete from the SIM.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ..clock import sleep_or_until, within
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
from ..gsm.pdu import SubmitPart
from ..reload import RELOADABLE_PHONE_KEYS
from ..store import phones as phone_store
from ..store.faults import StorageFault
from . import intake
from .calls import CallTracker
from .context import MODEM_TIMEOUT, PhoneContext
from .multipart import Outcome

__all__ = ["MAX_BATCH", "START_BACKOFF", "PhoneState", "PhoneStatus", "PhoneSupervisor"]

log = logging.getLogger("raspisms_daemon.phones")

START_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # between failed starts; an attach skips the wait
# When taking a message in fails (the store refused: disk full, locked), retry after these delays.
# A stored message that is given up on stays on the SIM (the backend shows it again after a reconnect
# or at the next start); one the modem handed over directly (+CMT/+CDS) exists nowhere else, so giving
# up on it loses it, and its PDU goes to the log. Blocking the event stream meanwhile is deliberate:
# nothing else could be stored either.
TAKE_IN_RETRIES = (0.5, 1.0, 2.0, 5.0, 10.0)
# Stored messages taken in by one transaction at most: a burst shares one fsync, and a long one still
# gets its first webhooks out while the rest is read.
MAX_BATCH = 64

Message = intake.Stored
_KIND: dict[type, str] = {SmsReceived: "SMS", ReportReceived: "report", UndecodableSms: "message"}


class PhoneState(enum.Enum):
    STARTING = "starting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    DISABLED = "disabled"


class PhoneStatus(NamedTuple):
    """What the API, the CLI, ``/metrics`` and the status line show of a phone."""

    id: int
    name: str
    backend: str
    device: str
    state: str  # connected | disconnected | disabled
    disabled_reason: str | None
    error: str | None  # why the phone gave up starting (a SIM that wants a code)
    imei: str | None
    iccid: str | None
    operator: str | None
    signal: int | None  # rssi 0..31
    registration: str | None
    last_seen: float | None  # unix seconds


def _noop() -> None:
    return None


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
        # Messages kept on the SIM while the store was degraded, in arrival order; one take-in at a time.
        self._held: list[Message] = []
        self._intake_lock = asyncio.Lock()

    @property
    def held(self) -> int:
        """Messages waiting on the SIM (or in memory, for one handed over directly) for the store."""
        return len(self._held)

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

    def status(self) -> PhoneStatus:
        identity = self.identity
        return PhoneStatus(
            id=self.phone.id,
            name=self.phone.name,
            backend=self.phone.backend,
            device=self.phone.device,
            state="disabled"
            if self.disabled
            else "connected"
            if self.link is PhoneState.CONNECTED
            else "disconnected",
            disabled_reason=self.disabled_reason,
            error=self.error,
            imei=identity.imei,
            iccid=identity.iccid,
            operator=identity.operator,
            signal=self.signal if self.signal is not None else identity.signal,
            registration=identity.registration,
            last_seen=self.last_seen,
        )

    # --- life cycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the backend (retrying), then handle its events until cancelled; stops it on the way out."""
        if not self.phone.enabled:
            self.first_attempt.set()
            return
        try:
            if not await self._start_until_up():
                return
            await self._consume()
        finally:
            if self.started:
                try:
                    await asyncio.shield(within(self.backend.stop(), MODEM_TIMEOUT))
                except (ModemError, LinkError, TimeoutError, OSError) as exc:
                    log.warning("stopping the modem: %s", exc, extra=self._extra)

    async def _start_until_up(self) -> bool:
        """True once the backend runs; False when only the user can help (the SIM wants a code)."""
        failures = 0
        while True:
            self.link = PhoneState.STARTING
            try:
                await within(self.backend.start(), MODEM_TIMEOUT * 4)
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
                await sleep_or_until(self.ctx.clock, delay, self._attach)
                if self.rebuild is not None:
                    with contextlib.suppress(ModemError, LinkError, TimeoutError, OSError):
                        await within(self.backend.stop(), MODEM_TIMEOUT)
                    self.backend = self.rebuild(self.phone)
        await self._connected()
        return True

    def reconfigure(self, phone: PhoneConfig) -> None:
        """A reload: the keys read at each use (:data:`raspisms_daemon.reload.RELOADABLE_PHONE_KEYS`)
        take ``phone``'s values; the rest (device, backend …) stays as the running backend has it."""
        self.phone = self.phone._replace(**{key: getattr(phone, key) for key in RELOADABLE_PHONE_KEYS})
        self.calls.phone = self.phone

    def retarget(self, device: str) -> None:
        """The phone was found on ``device`` (matched by IMEI/ICCID): use it from the next start on."""
        if device != self.phone.device:
            log.info("phone found on %s", device, extra=self._extra)
            self.phone = self.phone._replace(device=device)

    async def attach(self) -> None:
        """A device appeared (udev): retry at once instead of at the end of the backoff."""
        self._attach.set()
        if self.started:
            attach = getattr(self.backend, "attach", None)
            if attach is not None:
                try:
                    await within(attach(), MODEM_TIMEOUT)
                except (ModemError, LinkError, TimeoutError, OSError) as exc:
                    log.info("attach: %s", exc, extra=self._extra)

    async def _connected(self) -> None:
        self.link = PhoneState.CONNECTED
        self.last_seen = self.ctx.now()
        try:
            self.identity = await within(self.backend.identity(), MODEM_TIMEOUT)
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
        st = self.status()
        try:
            async with self.ctx.db.transaction() as conn:
                await phone_store.record_status(
                    conn,
                    self.phone.id,
                    status=st.state,
                    disabled_reason=st.disabled_reason,
                    imei=st.imei,
                    imsi=self.identity.imsi,
                    iccid=st.iccid,
                    operator=st.operator,
                    signal=st.signal,
                    registration=st.registration,
                    last_seen=st.last_seen,
                )
        except Exception as exc:
            if not self.ctx.db.health.report(exc):
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

    async def _consume(self) -> None:
        """Handle the backend's events in order until its stream ends. Stored messages that are ready
        together (a sweep's listing, a burst of ``+CMTI``, what arrived during the last commit) are
        taken in as one batch; a lone message never waits for company."""
        ready: asyncio.Queue[ModemEvent | None] = asyncio.Queue()

        async def pump() -> None:
            # Reads ahead while a batch commits, so that the next batch is whatever arrived meanwhile.
            try:
                async for ev in self.backend.events():
                    ready.put_nowait(ev)
            finally:
                ready.put_nowait(None)

        reader = asyncio.create_task(pump(), name=f"phone-{self.phone.id}-events")
        try:
            later: list[ModemEvent | None] = []  # what ended a batch, handled next
            while True:
                ev = later.pop() if later else await ready.get()
                if ev is None:
                    break
                if not isinstance(ev, Message):
                    await self.handle(ev)
                    continue
                batch: list[Message] = [ev]
                while len(batch) < MAX_BATCH and not ready.empty():
                    nxt = ready.get_nowait()
                    if not isinstance(nxt, Message):
                        later.append(nxt)
                        break
                    batch.append(nxt)
                await self.handle_batch(batch)
            reader.result()  # the stream's own failure, if that is how it ended
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def handle(self, ev: ModemEvent) -> None:
        """Take one event in; a message whose transaction fails is retried (TAKE_IN_RETRIES), or held
        while the store is degraded."""
        self.last_seen = self.ctx.now()
        if not isinstance(ev, Message):
            await self._handle_once(ev)  # not retried: a call rings again, signal and link state recur
            return
        async with self._intake_lock:
            await self._take_in(ev)

    async def handle_batch(self, messages: Sequence[Message]) -> None:
        """Take messages in together: one transaction for all, then each is deleted from the SIM. When
        that transaction fails, each is taken in on its own (retried, or held while the store is
        degraded), so that one message the store refuses holds none of the others back."""
        self.last_seen = self.ctx.now()
        async with self._intake_lock:
            await self._take_all(messages)

    async def retake_held(self) -> int:
        """The store works again: take in (and then delete) what was held; returns how many are left."""
        async with self._intake_lock:
            held, self._held = self._held, []
            if held:
                log.info("taking in %d message(s) kept on the SIM meanwhile", len(held), extra=self._extra)
                await self._take_all(held)
            return len(self._held)

    async def _take_all(self, messages: Sequence[Message]) -> None:
        if len(messages) > 1 and not self.ctx.db.health.degraded and await self._take_together(messages):
            return
        for ev in messages:
            await self._take_in(ev)

    def _hold(self, ev: Message) -> None:
        self._held.append(ev)
        where = "on the SIM" if ev.index is not None else f"in memory only (no SIM copy), PDU {ev.pdu}"
        log.warning(
            "store degraded (%s): %s kept %s until it works again",
            self.ctx.db.health.reason,
            type(ev).__name__,
            where,
            extra=self._extra,
        )

    async def _take_in(self, ev: Message) -> None:
        for delay in (*self.take_in_retries, None):
            if not self.ctx.db.health.degraded and await self._take_together([ev]):
                return
            if self.ctx.db.health.degraded:
                self._hold(ev)  # the store's trouble, not the message's: never given up
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

    async def _take_together(self, messages: Sequence[Message]) -> bool:
        """One transaction for ``messages``; after its commit, each is said and deleted from the SIM.
        False when the transaction failed (nothing committed, nothing deleted)."""
        try:
            taken = await intake.take_in(self.ctx, self.phone.id, messages)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Nothing was committed and nothing deleted: the messages are still on the SIM.
            if not self.ctx.db.health.report(exc):
                what = type(messages[0]).__name__ if len(messages) == 1 else f"{len(messages)} messages"
                log.exception("could not take in %s", what, extra=self._extra)
            return False
        if any(not t.again for t in taken):
            self.ctx.wake_dispatcher()
        for ev, t in zip(messages, taken, strict=True):
            self._say(ev, t)
        freed: set[tuple[str, int]] = set()
        for ev in messages:
            if ev.index is not None and (ev.storage, ev.index) not in freed:
                freed.add((ev.storage, ev.index))  # the same message twice in one batch: freed once
                await self._delete(ev)
        return True

    async def _handle_once(self, ev: ModemEvent) -> bool:
        try:
            if isinstance(ev, CallRinging):
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
        except Exception as exc:
            if not self.ctx.db.health.report(exc):
                log.exception("could not handle %s", type(ev).__name__, extra=self._extra)
            return False
        return True

    async def _delete(self, ev: Message) -> None:
        """Only ever called after the commit that took the message in."""
        if ev.index is None:
            return
        try:
            # Committed, but into the file at our path? (Deleted or replaced meanwhile: no.)
            self.ctx.db.check_file()
        except StorageFault as fault:
            self.ctx.db.health.report(fault)
        if self.ctx.db.health.degraded:
            self._hold(ev)  # taken in again once the store works (recognised then: no double)
            return
        try:
            await within(self.backend.delete(ev.index, ev.storage), MODEM_TIMEOUT)
        except (ModemError, LinkError, TimeoutError) as exc:
            # Never a loss (it is committed). It is not retried blindly: the slot may hold a new message
            # by then. The backend's next sweep shows the message again, taken_in recognises it, and it
            # is deleted then.
            log.warning(
                "could not delete %s/%d from the SIM: %s", ev.storage, ev.index, exc, extra=self._extra
            )

    def _say(self, ev: Message, taken: intake.Taken) -> None:
        """The log line of one message taken in (after its commit: a rolled-back one kept nothing)."""
        where = f"{ev.storage}/{ev.index}"
        if taken.again:
            log.info("%s %s already taken in; deleting it", _KIND[type(ev)], where, extra=self._extra)
        elif isinstance(ev, SmsReceived) and intake.is_part(ev):
            self._say_part(ev, taken)
        elif isinstance(ev, SmsReceived):
            log.info(
                "SMS received from %s", ev.message.number, extra={**self._extra, "sms_id": taken.received_id}
            )
        elif isinstance(ev, ReportReceived):
            r = ev.report
            log.info(
                "delivery report mr=%d to %s: %s%s",
                r.mr,
                r.number,
                r.outcome,
                "" if taken.matched else " (no match yet)",
                extra=self._extra,
            )
        else:
            log.error(
                "undecodable message kept raw in the 'undecodable' table (%s): %s",
                ev.error,
                ev.pdu,
                extra=self._extra,
            )

    def _say_part(self, ev: SmsReceived, taken: intake.Taken) -> None:
        m = ev.message
        assert m.concat is not None
        if taken.clash:
            log.warning(
                "multipart SMS from %s delivered incomplete: a new message reuses its reference %d",
                m.number,
                m.concat.ref,
                extra=self._extra,
            )
        if taken.received_id is not None:
            log.info(
                "multipart SMS received from %s (%d parts)",
                m.number,
                m.concat.total,
                extra={**self._extra, "sms_id": taken.received_id},
            )
        elif taken.outcome is not Outcome.COMPLETE:
            log.debug(
                "part %d/%d from %s (%s)",
                m.concat.seq,
                m.concat.total,
                m.number,
                taken.outcome.value if taken.outcome is not None else "?",
                extra=self._extra,
            )
