"""The AT modem backend: a USB GSM modem on a serial port, in PDU mode.

Layers (as zigpy-znp): :mod:`.at_protocol` (pure parser) → :mod:`.at_transport` (one open port, one
command in flight) → :class:`SerialAtBackend` (the domain: init, receiving, sending, calls, liveness,
reconnects). One supervisor task owns everything long-lived: while connected it runs the URC worker
(calls are tracked by the pure :class:`~.call_tracker.CallTracker`) and the periodic sweep/liveness job;
when the link is lost it emits :class:`~.modem.Disconnected`, gets the modem back as the shared
:class:`~.policy.ReconnectPolicy` says (reopen, re-init, ``AT+CFUN=1,1``, wait for the path to re-appear
or :meth:`attach`), then emits :class:`~.modem.Reconnected` and sweeps.

The backend never deletes a stored message on its own; only :meth:`SerialAtBackend.delete` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..clock import Clock, SystemClock, sleep_or_until
from ..config import PhoneConfig
from ..errors import CmeError, CmsError, LinkError, ModemError, ModemGone, ModemTimeout, PduError
from . import pdu as pdu_codec
from .at_protocol import (
    Response,
    ResultKind,
    StorageChoice,
    StoredPdu,
    Urc,
    choose_storage,
    parse_cmgl,
    parse_cmgr,
    parse_cmgs,
    parse_cpin,
    parse_cpms_test,
    parse_creg,
    parse_csq,
    parse_storage_index,
    redact,
    split_args,
)
from .at_transport import ESC, AtTransport
from .call_tracker import CALL_URCS, RING_GAP, AskClcc, CallAction, CallTracker
from .event_stream import EmittedMessages, EventStream
from .modem import (
    Disconnected,
    Identity,
    ModemEvent,
    Reconnected,
    ReportReceived,
    SignalChanged,
    SmsReceived,
    UndecodableSms,
)
from .policy import (
    PinStep,
    ReconnectPolicy,
    Recovery,
    RefusedPins,
    decide_pin,
    refused_pin_error,
    sim_status_from_cpin,
)

__all__ = ["CNMI_MODES", "BackendState", "SerialAtBackend"]

log = logging.getLogger(__name__)

# ModemManager's order: store + indicate SMS and reports; then fall back to what the modem accepts.
CNMI_MODES = ("2,1,0,2,0", "2,1,0,1,0", "1,1,0,2,0", "1,1,0,1,0", "2,1,0,0,0", "1,1,0,0,0")
_SIM_BUSY = (14, 515)  # "SIM busy" / "please wait, init in progress": retried during init
_ANY_PREFIX = re.compile(r"^[+^][A-Z]+:\s*", re.IGNORECASE)


class BackendState(enum.Enum):
    NEW = "new"
    CONNECTED = "connected"
    RECOVERING = "recovering"
    FAILED = "failed"  # a wrong or missing PIN: retrying would lock the SIM
    STOPPED = "stopped"


class _Lost(Exception):
    """Internal: the connected phase ended; the supervisor reconnects."""


class SerialAtBackend:
    """:class:`~.modem.ModemBackend` over AT commands on a tty."""

    def __init__(
        self,
        phone: PhoneConfig,
        *,
        clock: Clock | None = None,
        command_timeout: float = 10.0,
        send_timeout: float = 60.0,
        reconnect: ReconnectPolicy | None = None,
        refused_pins: RefusedPins | None = None,
        ring_gap: float = RING_GAP,
    ) -> None:
        self._phone = phone
        self._clock = clock or SystemClock()
        self._command_timeout = command_timeout
        self._send_timeout = send_timeout
        self._policy = reconnect or ReconnectPolicy()
        self._refused_pins = refused_pins or RefusedPins()
        # Every line carries the phone's id as a field (the journal's PHONE_ID), as the phone's own do.
        self._log = logging.LoggerAdapter(log, {"phone_id": phone.id})
        self._state = BackendState.NEW
        self._transport: AtTransport | None = None
        self._identity = Identity()
        self._stream = EventStream()
        self._urcs: asyncio.Queue[Urc] = asyncio.Queue()
        self._supervisor: asyncio.Task[None] | None = None
        self._attach = asyncio.Event()
        self._check_now = asyncio.Event()  # a command timed out: ping at once
        self._op_lock = asyncio.Lock()  # a storage switch and the command using it go together
        self._mem1: str | None = None  # the storage AT+CMGR/CMGL/CMGD act on right now
        self._setup = StorageChoice(("SM", "SM", "SM"), frozenset({"SM"}))
        self._sweep_storages: set[str] = set()
        self._emitted = EmittedMessages()
        self._signal: int | None = None
        self._calls = CallTracker(ring_gap=ring_gap)

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def state(self) -> BackendState:
        return self._state

    async def start(self) -> None:
        if self._state is not BackendState.NEW:
            raise ModemError(f"start() in state {self._state.value}")
        # Raises: a modem we cannot use is the caller's news.
        transport, identity, setup = await self._connect()
        self._adopt(transport, identity, setup)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"at-backend-{self._phone.id}")

    async def stop(self) -> None:
        if self._state is BackendState.STOPPED:
            return
        self._state = BackendState.STOPPED
        self._stream.close()
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._transport is not None:
            self._transport.close()  # fails whatever command is still waiting with ModemGone
            self._transport = None
        self._log.info("AT backend stopped")

    def events(self) -> AsyncIterator[ModemEvent]:
        return self._stream.events()

    async def attach(self) -> None:
        """udev says a device appeared: if we are waiting for ours, try at once."""
        self._attach.set()

    def _adopt(self, transport: AtTransport, identity: Identity, setup: StorageChoice) -> None:
        # State is assigned only here, after a connect fully succeeded.
        self._setup = setup
        self._mem1 = setup.primary
        # Storages learnt from URCs ("SR" for reports) stay swept after a reconnect.
        self._sweep_storages |= setup.sweep
        self._transport = transport
        self._identity = identity
        self._signal = identity.signal
        self._emitted.clear()
        self._state = BackendState.CONNECTED

    # -- connecting ---------------------------------------------------------------------------------
    async def _connect(self) -> tuple[AtTransport, Identity, StorageChoice]:
        self._urcs = asyncio.Queue()  # URCs of a dead port are stale
        transport = await AtTransport.open(
            self._phone.device,
            self._phone.baudrate,
            on_urc=self._on_urc,
            phone_id=self._phone.id,
        )
        try:
            identity, setup = await self._init(transport)
        except BaseException:
            transport.close()
            raise
        self._log.info(
            "modem ready: %s %s imei=%s operator=%s storage=%s",
            identity.manufacturer,
            identity.model,
            identity.imei,
            identity.operator,
            setup.incoming,
        )
        return transport, identity, setup

    async def _cmd(self, t: AtTransport, command: str, limit: float | None = None) -> Response:
        try:
            return await t.command(command, limit or self._command_timeout)
        except ModemTimeout:
            self._check_now.set()
            raise

    async def _ok(self, t: AtTransport, command: str, limit: float | None = None) -> tuple[str, ...]:
        """Run a command; its info lines when OK, the typed error otherwise."""
        response = await self._cmd(t, command, limit)
        _raise_for(response)
        return response.lines

    async def _try(self, t: AtTransport, command: str) -> tuple[str, ...] | None:
        """A command whose refusal is fine (optional features); None when refused."""
        try:
            return await self._ok(t, command)
        except ModemError as exc:
            self._log.debug("%s refused: %s", redact(command), exc)
            return None

    async def _wake(self, t: AtTransport) -> None:
        # ESC leaves a "> " prompt left over from a crash without sending it (Ctrl-Z would send it).
        await t.write_raw(ESC)
        await self._clock.sleep(0.05)
        last: Exception | None = None
        for _ in range(2):
            try:
                await self._cmd(t, "AT", min(2.0, self._command_timeout))
                return
            except ModemTimeout as exc:
                last = exc
        raise ModemTimeout("modem does not answer AT") from last

    async def _init(self, t: AtTransport) -> tuple[Identity, StorageChoice]:
        await self._wake(t)
        await self._ok(t, "ATE0")
        await self._try(t, "AT+CMEE=1")
        await self._unlock_sim(t)
        manufacturer = _first(await self._try(t, "AT+CGMI"), "+CGMI")
        huawei = bool(manufacturer and "huawei" in manufacturer.lower())
        await self._ok(t, "AT+CMGF=0")
        setup = await self._select_storage(t)
        await self._set_cnmi(t)
        await self._try(t, "AT+CLIP=1")
        if huawei:
            await self._try(t, "AT^CURC=0")
        await self._try(t, "AT+CREG=2")
        return await self._read_identity(t, manufacturer), setup

    async def _unlock_sim(self, t: AtTransport) -> None:
        pin = self._phone.pin
        entered = False
        for _ in range(10):
            try:
                lines = await self._ok(t, "AT+CPIN?")
            except CmeError as exc:
                if exc.code in _SIM_BUSY:
                    await self._clock.sleep(0.5)
                    continue
                raise
            status = parse_cpin(lines) or ""
            refused = self._refused_pins.refused(self._phone.device, pin)
            decision = decide_pin(
                sim_status_from_cpin(status), status, pin, refused_before=refused, entered=entered
            )
            if decision.error is not None:
                raise decision.error
            if decision.step is PinStep.READY:
                return
            if decision.step is PinStep.WAIT:
                await self._clock.sleep(0.5)
                continue
            assert pin is not None  # PinStep.ENTER_PIN
            try:
                await self._ok(t, f'AT+CPIN="{pin}"')
            except ModemError as exc:  # a refusal; no answer (LinkError) is no refusal
                self._refused_pins.remember(self._phone.device, pin)
                raise refused_pin_error(exc) from exc
            entered = True
            self._log.info("SIM unlocked with the configured PIN")
        raise ModemTimeout("SIM never became ready")

    async def _select_storage(self, t: AtTransport) -> StorageChoice:
        choice = choose_storage(parse_cpms_test(await self._try(t, "AT+CPMS=?") or ()))
        mems = ",".join(f'"{mem}"' for mem in choice.mems)
        if await self._try(t, f"AT+CPMS={mems}") is None:
            await self._try(t, f'AT+CPMS="{choice.primary}"')
        return choice

    async def _set_cnmi(self, t: AtTransport) -> None:
        for mode in CNMI_MODES:
            if await self._try(t, f"AT+CNMI={mode}") is not None:
                if mode != CNMI_MODES[0]:
                    self._log.info("modem refused AT+CNMI=%s; using %s", CNMI_MODES[0], mode)
                return
        self._log.warning("modem accepts no AT+CNMI mode; relying on the periodic sweep")

    async def _read_identity(self, t: AtTransport, manufacturer: str | None) -> Identity:
        model = _first(await self._try(t, "AT+CGMM"), "+CGMM")
        imei = _first(await self._try(t, "AT+CGSN"), "+CGSN")
        imsi = _first(await self._try(t, "AT+CIMI"), "+CIMI")
        iccid_commands = ["AT+CCID", "AT^ICCID?", "AT+QCCID"]
        if manufacturer and "huawei" in manufacturer.lower():
            iccid_commands.insert(0, iccid_commands.pop(1))
        elif manufacturer and "quectel" in manufacturer.lower():
            iccid_commands.insert(0, iccid_commands.pop(2))
        iccid = None
        for command in iccid_commands:
            lines = await self._try(t, command)
            if lines:
                iccid = _first(lines, None)
                break
        operator = None
        cops = _first(await self._try(t, "AT+COPS?"), "+COPS")
        if cops:
            parts = split_args(cops)
            operator = parts[2] if len(parts) > 2 and parts[2] else None
        signal = await self._read_signal(t)
        registration = await self._read_registration(t)
        return Identity(manufacturer, model, imei, imsi, iccid, operator, signal, registration)

    async def _read_signal(self, t: AtTransport) -> int | None:
        csq = _first(await self._ok(t, "AT+CSQ"), "+CSQ")
        return parse_csq(csq) if csq else None

    async def _read_registration(self, t: AtTransport) -> str | None:
        creg = _first(await self._try(t, "AT+CREG?"), "+CREG")
        return parse_creg(creg) if creg else None

    # -- the supervisor -----------------------------------------------------------------------------
    async def _supervise(self) -> None:
        try:
            while self._state is not BackendState.STOPPED:
                reason = await self._connected_phase()
                self._state = BackendState.RECOVERING
                self._log.warning("modem lost: %s", reason)
                self._stream.emit(Disconnected(reason))
                if not await self._recover():
                    return
                self._stream.emit(Reconnected())
        finally:
            # Cleanup also on CancelledError: the port never outlives its owner.
            # (mypy keeps its narrowing of _state across the awaits above; stop() changes it meanwhile.)
            if self._transport is not None and self._state is not BackendState.CONNECTED:  # type: ignore[comparison-overlap]
                self._transport.close()

    async def _connected_phase(self) -> str:
        """Run the URC worker and the periodic job until the link is lost; return why."""
        transport = self._transport
        assert transport is not None
        worker = asyncio.create_task(self._urc_worker(transport), name=f"at-urcs-{self._phone.id}")
        periodic = asyncio.create_task(self._periodic(transport), name=f"at-periodic-{self._phone.id}")
        lost = asyncio.ensure_future(transport.lost)
        try:
            waiters: set[asyncio.Future[Any]] = {worker, periodic, lost}
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if lost in done:
                return str(lost.result())
            for task in done:
                exc = task.exception()
                if isinstance(exc, _Lost):
                    return str(exc)
                if exc is not None:
                    self._log.error("backend task failed", exc_info=exc)
                    return f"internal error: {exc!r}"
            return "connected phase ended"
        finally:
            for task in (worker, periodic):
                task.cancel()
            await asyncio.gather(worker, periodic, return_exceptions=True)
            transport.close()
            self._transport = None

    async def _periodic(self, t: AtTransport) -> None:
        await self._sweep(t)
        monotonic = self._clock.monotonic
        next_sweep = monotonic() + self._phone.sweep_interval
        next_ping = monotonic() + self._phone.liveness_interval
        while True:
            wait = max(0.0, min(next_sweep, next_ping) - monotonic())
            await sleep_or_until(self._clock, wait, self._check_now)
            now = monotonic()
            if self._check_now.is_set() or now >= next_ping:
                self._check_now.clear()
                next_ping = now + self._phone.liveness_interval
                await self._liveness(t)
            if now >= next_sweep:
                next_sweep = now + self._phone.sweep_interval
                await self._sweep(t)

    async def _liveness(self, t: AtTransport) -> None:
        # Two tries: a modem still busy after a send or a long listing may miss the first one.
        for _ in range(2):
            try:
                response = await t.command("AT+CSQ", self._command_timeout)
            except ModemTimeout:
                continue
            except ModemGone as exc:
                raise _Lost(str(exc)) from exc
            if response.result.ok:
                csq = _first(response.lines, "+CSQ")
                self._set_signal(parse_csq(csq) if csq else None)
            return  # any answer, even ERROR, proves the modem alive
        raise _Lost("no answer to the liveness check")

    async def _recover(self) -> bool:
        """Get the modem back; False when it must not be retried (PIN trouble) or we are stopping."""
        attempt = 0
        while self._state is not BackendState.STOPPED:
            delay = self._policy.delay(attempt)
            attempt += 1
            if not os.path.exists(self._phone.device):  # noqa: ASYNC240 (one stat, never blocks long)
                self._log.info("waiting for %s to come back", self._phone.device)
            else:
                try:
                    transport, identity, setup = await self._connect()
                except (ModemError, LinkError) as exc:
                    recovery = self._policy.after_failure(exc)
                    if recovery is Recovery.GIVE_UP:
                        self._log.error("giving up: %s", exc)
                        self._state = BackendState.FAILED
                        self._stream.emit(Disconnected(str(exc)))
                        return False
                    if recovery is Recovery.RESET:
                        self._log.warning("modem does not answer after reopen (%s); resetting it", exc)
                        await self._reset_modem()
                    else:
                        self._log.warning("reconnect failed: %s", exc)
                else:
                    if self._state is BackendState.STOPPED:  # type: ignore[comparison-overlap]  # stop() ran meanwhile
                        transport.close()
                        return False
                    self._adopt(transport, identity, setup)
                    self._log.info("modem back")
                    return True
            await sleep_or_until(self._clock, delay, self._attach)
            self._attach.clear()
        return False

    async def _reset_modem(self) -> None:
        """AT+CFUN=1,1 on a fresh port; the modem reboots (no answer expected in time)."""
        try:
            transport = await AtTransport.open(
                self._phone.device, self._phone.baudrate, on_urc=lambda _u: None, phone_id=self._phone.id
            )
        except ModemGone:
            return
        try:
            # A stalled firmware may obey the reset without answering it: do not wait long.
            await transport.command("AT+CFUN=1,1", min(1.0, self._command_timeout))
        except (ModemError, LinkError):
            pass
        finally:
            transport.close()

    # -- unsolicited ------------------------------------------------------------------------------------
    def _on_urc(self, urc: Urc) -> None:
        self._urcs.put_nowait(urc)

    async def _urc_worker(self, t: AtTransport) -> None:
        while True:
            # A deadline, not a timeout per wait: Huawei's ^RSSI noise must not push it back.
            urc = await self._next_urc(self._calls.deadline())
            now = self._clock.monotonic()
            if urc is None:
                await self._run_call_actions(t, self._calls.deadline_passed(now))
            elif urc.name in CALL_URCS:
                await self._run_call_actions(t, self._calls.urc(urc.name, urc.args, now))
            else:
                await self._handle_urc(t, urc)

    async def _next_urc(self, deadline: float | None) -> Urc | None:
        """The next URC; None once the clock reaches ``deadline`` first."""
        if deadline is None:
            return await self._urcs.get()
        get = asyncio.ensure_future(self._urcs.get())
        sleep = asyncio.ensure_future(self._clock.sleep(deadline - self._clock.monotonic()))
        try:
            await asyncio.wait({get, sleep}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (get, sleep):
                if not waiter.done():
                    waiter.cancel()  # a get cancelled before it completed leaves its URC queued
            await asyncio.gather(get, sleep, return_exceptions=True)
        return get.result() if not get.cancelled() else None

    async def _run_call_actions(self, t: AtTransport, actions: list[CallAction]) -> None:
        for action in actions:
            if not isinstance(action, AskClcc):
                self._stream.emit(action)
                continue
            ended = self._calls.clcc_answered(await self._ask_clcc(t))
            if ended:
                self._log.info("the caller gave up without an end of call from the modem")
            for event in ended:
                self._stream.emit(event)

    async def _ask_clcc(self, t: AtTransport) -> tuple[str, ...] | None:
        """``AT+CLCC``'s info lines; ``()`` when refused, None when it got no answer."""
        try:
            return await self._ok(t, "AT+CLCC")
        except ModemTimeout:
            return None
        except ModemGone as exc:
            raise _Lost(str(exc)) from exc
        except ModemError:
            return ()

    async def _handle_urc(self, t: AtTransport, urc: Urc) -> None:
        name = urc.name
        try:
            if name in ("+CMTI", "+CDSI"):
                where = parse_storage_index(urc.args)
                if where is None:
                    self._log.warning("unreadable %s: %r", name, urc.line)
                    return
                storage, index = where
                self._sweep_storages.add(storage)
                await self._read_stored(t, storage, index)
            elif name in ("+CMT", "+CDS") and urc.pdu is not None:
                self._emit_pdu(None, "", urc.pdu)
            elif name in ("^RSSI", "+CSQ"):
                self._set_signal(parse_csq(urc.args))
            elif name in ("+CREG", "+CGREG", "+CEREG"):
                if name == "+CREG":
                    registration = parse_creg(urc.args)
                    self._identity = self._identity._replace(registration=registration)
            else:
                self._log.debug("URC ignored: %r", urc.line)
        except ModemTimeout as exc:
            self._log.warning("%s not handled: %s (the sweep will catch up)", name, exc)
        except ModemGone as exc:
            raise _Lost(str(exc)) from exc
        except ModemError as exc:
            self._log.warning("%s not handled: %s (the sweep will catch up)", name, exc)

    def _set_signal(self, rssi: int | None) -> None:
        if rssi != self._signal:
            self._signal = rssi
            self._identity = self._identity._replace(signal=rssi)
            self._stream.emit(SignalChanged(rssi))

    # -- stored messages ------------------------------------------------------------------------------
    async def _use_storage(self, t: AtTransport, storage: str) -> None:
        if storage != self._mem1:
            await self._ok(t, f'AT+CPMS="{storage}"')
            self._mem1 = storage

    async def _read_stored(self, t: AtTransport, storage: str, index: int) -> None:
        async with self._op_lock:
            await self._use_storage(t, storage)
            response = await self._cmd(t, f"AT+CMGR={index}")
        _raise_for(response)
        entry = parse_cmgr(response.lines)
        if entry is None:
            self._log.info("%s/%d is empty", storage, index)
            return
        self._emit_stored(index, storage, entry)

    async def _sweep(self, t: AtTransport) -> None:
        """``AT+CMGL=4`` on every storage: real modems lose URCs."""
        try:
            # The storage chosen at init first, so that a message is named after it when aliased.
            order = sorted(self._sweep_storages, key=lambda name: (name != self._setup.primary, name))
            for storage in order:
                async with self._op_lock:
                    try:
                        await self._use_storage(t, storage)
                    except ModemError as exc:
                        self._log.debug("storage %s not sweepable: %s", storage, exc)
                        continue
                    response = await self._cmd(
                        t, "AT+CMGL=4", 3 * self._command_timeout
                    )  # a full SIM is slow
                if not response.result.ok:
                    self._log.warning("AT+CMGL=4 on %s: %s", storage, response.result)
                    continue
                for entry in parse_cmgl(response.lines):
                    if entry.index is None:
                        self._log.warning("AT+CMGL on %s: %r has no index; left alone", storage, entry.header)
                    else:
                        self._emit_stored(entry.index, storage, entry)
        except ModemTimeout as exc:
            self._log.warning("sweep failed: %s", exc)
        except ModemGone as exc:
            raise _Lost(str(exc)) from exc

    def _emit_stored(self, index: int, storage: str, entry: StoredPdu) -> None:
        """One stored message as the modem listed it: decoded, or reported raw when its lines hold no
        PDU (the supervisor keeps it and frees the slot); one with no line at all stays on the SIM."""
        if entry.problem is None:
            if entry.raw != entry.pdu:
                self._log.info("%s/%d: ignored what surrounds the PDU in %r", storage, index, entry.raw[:200])
            self._emit_pdu(index, storage, entry.pdu)
            return
        if not entry.lines:
            self._log.warning("%s/%d came without a PDU (%r); left on the SIM", storage, index, entry.header)
            return
        if self._first_time(storage, index, entry.raw):
            self._log.warning("unreadable message at %s/%d (%s); kept raw", storage, index, entry.problem)
            error = f"{entry.problem} (after {entry.header!r})"
            self._stream.emit(UndecodableSms(index, storage, entry.raw, error))

    def _first_time(self, storage: str, index: int, content: str) -> bool:
        """Not emitted yet (or deleted since): emitted and not yet deleted, the supervisor has it, and
        seen through an alias, emitting it again would make two messages of one."""
        if self._emitted.seen((storage, index, content), aliases=self._sweep_storages):
            return False
        self._emitted.add((storage, index, content))
        return True

    def _emit_pdu(self, index: int | None, storage: str, pdu: str) -> None:
        if index is not None and not self._first_time(storage, index, pdu):
            return
        try:
            message = pdu_codec.decode(pdu)
        except PduError as exc:
            self._log.warning("undecodable PDU at %s/%s: %s", storage, index, exc)
            self._stream.emit(UndecodableSms(index, storage, pdu, str(exc)))
            return
        if message.problems:
            self._log.warning(
                "PDU at %s/%s read with repairs (%s): %s", storage, index, "; ".join(message.problems), pdu
            )
        if isinstance(message, pdu_codec.DeliverPdu):
            self._stream.emit(SmsReceived(index, storage, pdu, message))
        elif isinstance(message, pdu_codec.StatusReportPdu):
            self._stream.emit(ReportReceived(index, storage, pdu, message))
        else:
            # A stored SMS-SUBMIT (a draft or an outbox copy) is not something we received.
            self._log.info("ignoring stored SMS-SUBMIT at %s/%s", storage, index)

    # -- commands from the supervisor -------------------------------------------------------------------
    def _live(self) -> AtTransport:
        if self._state is not BackendState.CONNECTED or self._transport is None:
            raise ModemGone(f"modem not connected ({self._state.value})")
        return self._transport

    async def send(self, parts: Sequence[pdu_codec.SubmitPart]) -> list[int]:
        refs: list[int] = []
        for part in parts:
            t = self._live()
            try:
                response = await t.submit(
                    part.tpdu_length, part.hex, self._command_timeout, self._send_timeout
                )
            except ModemTimeout:
                self._check_now.set()
                raise
            _raise_for(response)
            mr = parse_cmgs(response.lines)
            if mr is None:
                raise ModemError("AT+CMGS answered OK without a message reference")
            self._log.info("sent part to %s mr=%d", part.number, mr)
            refs.append(mr)
        return refs

    async def delete(self, index: int, storage: str) -> None:
        t = self._live()
        try:
            async with self._op_lock:
                await self._use_storage(t, storage)
                await self._ok(t, f"AT+CMGD={index}")
        finally:
            # Forgotten even when the delete failed: the next sweep shows the message again, the caller
            # recognises it as taken in and deletes it then (else it would sit on the SIM until a reconnect).
            self._emitted.forget(storage, index)
        self._log.info("deleted %s/%d", storage, index)

    async def hangup(self) -> None:
        t = self._live()
        try:
            await self._ok(t, "ATH")
        except ModemError:
            await self._ok(t, "AT+CHUP")  # some modems only hang up a voice call this way
        self._calls.hung_up()

    async def identity(self) -> Identity:
        t = self._transport
        if self._state is BackendState.CONNECTED and t is not None:
            with contextlib.suppress(ModemError, LinkError):
                self._set_signal(await self._read_signal(t))
                registration = await self._read_registration(t)
                if registration is not None:
                    self._identity = self._identity._replace(registration=registration)
        return self._identity


def _raise_for(response: Response) -> None:
    result = response.result
    if result.ok:
        return
    if result.kind is ResultKind.CMS_ERROR:
        raise CmsError(result.code if result.code is not None else -1, result.text)
    if result.kind is ResultKind.CME_ERROR:
        raise CmeError(result.code if result.code is not None else -1, result.text)
    code = f" {result.code}" if result.code is not None else ""  # MODEM ERROR: <n>
    raise ModemError(f"{redact(response.command)}: {result.kind.value}{code}")


def _first(lines: Sequence[str] | None, prefix: str | None) -> str | None:
    """The first info line, with ``<prefix>:`` and quotes removed (``+CGMI: "huawei"`` → ``huawei``)."""
    if not lines:
        return None
    line = lines[0].strip()
    if prefix and line.upper().startswith(prefix.upper() + ":"):
        line = line[len(prefix) + 1 :].strip()
    elif prefix is None:
        line = _ANY_PREFIX.sub("", line)
    return line.strip('"') or None
