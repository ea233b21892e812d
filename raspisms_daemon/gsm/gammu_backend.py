"""The python-gammu modem backend (``[phone:ID] backend = gammu``).

For phones and modems that libgammu drives better than our own AT dialect. Every libgammu call runs in
the phone's one :class:`~.gammu_worker.GammuWorker` thread, awaited with a timeout, so the event loop
never blocks. The backend

- polls the phone's folders with ``GetNextSMS`` every ``poll_interval`` (libgammu gives whole messages,
  not PDUs), groups them with ``gammu.LinkSMS`` and emits each *part* as its own :class:`SmsReceived`
  (``index`` = gammu Location, ``storage`` = ``str(Folder)``, ``pdu`` = ``""``), with the concatenation
  header in the :class:`DeliverPdu`, so the phone supervisor's multipart logic (shared with the AT
  backend) reassembles them; status reports stored in the inbox become :class:`ReportReceived`.
  A message is emitted once until it is deleted (and once more after a reconnect, as the AT backend
  does; the supervisor recognises what it already took in);
- turns libgammu's incoming-call callback into :class:`CallRinging`/:class:`CallEnded` (the callback runs
  in the worker thread, during a libgammu call; a ``ReadDevice`` every tick keeps it firing);
- sends with ``SendSMS`` (``Type = Status_Report`` asks for a delivery report: that is how libgammu sets
  TP-SRR), deletes only when asked, and reconnects with backoff when the phone goes away or stops
  answering (:class:`Disconnected` … :class:`Reconnected`).

The conversions between python-gammu's dicts and our types are pure, in :mod:`.gammu_convert`; the PIN
and the reconnect schedule follow :mod:`.policy`, as the AT backend's do.

python-gammu is an optional extra, imported when a backend is created: an AT-only install never needs it.
With ``gammu_model = dummy`` (libgammu's file-system phone, for tests and demos) the default connection
``at`` is replaced by ``none``, the only one that driver accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, TypeVar

from ..clock import Clock, SystemClock, sleep_or_until
from ..config import PhoneConfig
from ..errors import LinkError, ModemError, ModemGone
from .event_stream import EmittedMessages, EventStream, MessageKey
from .gammu_convert import (
    event_from_gammu,
    identity_from_gammu,
    message_key,
    rssi_from_quality,
    submit_message,
)
from .gammu_worker import GammuWorker, NoMoreEntries, import_gammu, translate_gammu_error
from .modem import (
    CallEnded,
    CallRinging,
    Disconnected,
    Identity,
    ModemEvent,
    Reconnected,
    SignalChanged,
)
from .pdu import SubmitPart
from .policy import (
    PinStep,
    ReconnectPolicy,
    Recovery,
    RefusedPins,
    decide_pin,
    refused_pin_error,
    sim_status_from_gammu,
)

__all__ = ["GammuBackend", "GammuState"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class GammuState(enum.Enum):
    NEW = "new"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # lost the phone; the supervision task is reconnecting
    FAILED = "failed"  # lost the phone and gave up getting it back: the SIM wants a code we do not have
    STOPPING = "stopping"
    STOPPED = "stopped"


# A GetNext* walk that never says "empty" (a driver bug) must not spin forever.
_MAX_MESSAGES_PER_SWEEP = 1000

_CALL_RINGING = frozenset({"IncomingCall"})
_CALL_ENDED = frozenset({"CallEnd", "CallRemoteEnd", "CallLocalEnd"})


class GammuBackend:
    """A :class:`~raspisms_daemon.gsm.modem.ModemBackend` on top of python-gammu."""

    def __init__(
        self,
        phone: PhoneConfig,
        *,
        clock: Clock | None = None,
        call_timeout: float = 30.0,
        reconnect: ReconnectPolicy | None = None,
        refused_pins: RefusedPins | None = None,
        init_timeout: float = 60.0,
    ) -> None:
        self._gammu: ModuleType = import_gammu()  # a clear ModemError when python-gammu is missing
        self._phone = phone
        self._clock: Clock = clock or SystemClock()
        self._call_timeout = call_timeout
        # libgammu's Init probes the phone with paced commands (≈5 s even on a quick modem): it gets
        # its own, longer timeout.
        self._init_timeout = max(init_timeout, call_timeout)
        self._policy = reconnect or ReconnectPolicy()
        self._refused_pins = refused_pins or RefusedPins()
        self._tick = max(0.05, min(phone.poll_interval, 0.5))  # ReadDevice period (call callbacks)
        self._state = GammuState.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: GammuWorker | None = None
        self._sm: Any = None  # the gammu.StateMachine; used only inside worker jobs (and Abort)
        self._busy_sm: Any = None  # the StateMachine a job may be blocked in (Init included)
        self._task: asyncio.Task[None] | None = None
        self._stream = EventStream()
        self._lost: str | None = None  # set by a user call that found the phone gone
        self._emitted = EmittedMessages()
        # Deleted while a sweep may hold an old copy: not emitted again until the next sweep starts. (The
        # AT backend needs no such rule: it emits a listing before anything else can run.)
        self._deleting: set[tuple[str, int]] = set()
        self._signal: int | None = None
        self._attach = asyncio.Event()  # udev saw a device appear: cut the reconnect backoff short
        self._sweep_lock = asyncio.Lock()  # one GetNextSMS walk at a time (libgammu keeps its cursor)
        # Every line carries the phone's id as a field (the journal's PHONE_ID), as the phone's own do.
        self._log = logging.LoggerAdapter(log, {"phone_id": phone.id})

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def state(self) -> GammuState:
        return self._state

    async def start(self) -> None:
        if self._state is not GammuState.NEW:
            raise ModemError(f"gammu backend cannot start from state {self._state.value}")
        self._loop = asyncio.get_running_loop()
        self._worker = GammuWorker(f"gammu-phone-{self._phone.id}", phone_id=self._phone.id)
        self._worker.start()
        try:
            await self._open()
        except BaseException:
            if self._worker.busy_with is not None:
                self._abort()
            await self._worker.close(timeout=self._call_timeout)
            self._state = GammuState.STOPPED
            self._stream.close()
            raise
        self._state = GammuState.CONNECTED
        self._log.info(
            "gammu connected (model=%s connection=%s device=%s)",
            self._phone.gammu_model or "auto",
            self._connection(),
            self._phone.device,
        )
        self._task = asyncio.create_task(self._supervise(), name=f"gammu-phone-{self._phone.id}")

    async def stop(self) -> None:
        if self._state in (GammuState.STOPPING, GammuState.STOPPED):
            return
        self._state = GammuState.STOPPING
        if self._task is not None:
            while not self._task.done():  # re-cancel: one cancellation may land in a finished await
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)  # real time: for the cancellation to land
            if not self._task.cancelled() and self._task.exception() is not None:
                self._log.error("gammu supervision had failed: %r", self._task.exception())
        if self._worker is not None:
            if self._worker.busy_with is not None:
                self._abort()  # cut a blocked libgammu call short instead of waiting out its timeout
            exited = await self._worker.close(final=self._terminate_sync, timeout=self._call_timeout)
            if not exited:
                self._log.error("gammu worker thread did not stop; it is left blocked in libgammu")
        self._sm = None
        self._state = GammuState.STOPPED
        self._stream.close()
        self._log.info("gammu backend stopped")

    def events(self) -> AsyncIterator[ModemEvent]:
        return self._stream.events()

    # -- commands ----------------------------------------------------------------------------------

    async def send(self, parts: Sequence[SubmitPart]) -> list[int]:
        references: list[int] = []
        for n, part in enumerate(parts, 1):
            message = submit_message(part)
            ref = await self._user_call(
                lambda m=message: self._need_sm().SendSMS(m),  # type: ignore[misc]
                f"SendSMS part {n}/{len(parts)}",
            )
            mr = int(ref) & 0xFF  # TP-MR is one octet, as the status report will carry it
            references.append(mr)
            self._log.info("sent part %d/%d to %s mr=%d", n, len(parts), part.number, mr)
        return references

    async def delete(self, index: int, storage: str) -> None:
        folder = int(storage)
        self._deleting.add((storage, index))
        try:
            await self._user_call(
                lambda: self._need_sm().DeleteSMS(Folder=folder, Location=index),
                f"DeleteSMS {storage}/{index}",
            )
        except NoMoreEntries:
            self._log.debug("message %s/%d already gone", storage, index)
        except BaseException:
            # Still stored: let the next poll show it again, so that the caller deletes it then.
            self._deleting.discard((storage, index))
            raise
        finally:
            self._emitted.forget(storage, index)

    async def attach(self) -> None:
        """udev says a device appeared: if we are waiting to reconnect, try at once."""
        self._attach.set()

    async def hangup(self) -> None:
        await self._user_call(lambda: self._need_sm().CancelCall(0, True), "CancelCall")

    async def identity(self) -> Identity:
        return await self._user_call(self._identity_sync, "identity")

    # -- worker plumbing ---------------------------------------------------------------------------

    def _connection(self) -> str:
        connection = self._phone.gammu_connection or "at"
        if self._phone.gammu_model == "dummy" and connection == "at":
            return "none"  # the dummy driver refuses any real connection; "at" is only the default
        return connection

    def _gammu_config(self) -> dict[str, Any]:
        return {
            "Device": self._phone.device,
            "Connection": self._connection(),
            "Model": self._phone.gammu_model,
            "StartInfo": False,
            "SyncTime": False,
            "LockDevice": False,
            "UseGlobalDebugFile": False,
        }

    async def _call(
        self,
        fn: Callable[[], T],
        what: str,
        timeout: float | None = None,  # noqa: ASYNC109 - the job's limit
    ) -> T:
        if self._worker is None:
            raise ModemGone(f"{what}: not started")
        return await self._worker.call(fn, timeout=timeout or self._call_timeout, what=what)

    async def _user_call(self, fn: Callable[[], T], what: str) -> T:
        """A call on behalf of a caller: refused while disconnected; a lost phone starts a reconnect."""
        if self._state is not GammuState.CONNECTED or self._sm is None:
            raise ModemGone(f"{what}: phone not connected ({self._state.value})")
        try:
            return await self._call(fn, what)
        except LinkError as exc:
            if self._lost is None:
                self._lost = str(exc)  # the supervision task notices within a tick and reconnects
            raise

    def _need_sm(self) -> Any:
        """In the worker: the connected StateMachine, or ModemGone (a job queued before a loss)."""
        sm = self._sm
        if sm is None:
            raise ModemGone("no gammu connection")
        return sm

    def _abort(self) -> None:
        sm = self._busy_sm
        if sm is not None:
            # StateMachine.Abort only raises a flag that libgammu's wait loops check: safe from any
            # thread, and it does not take python-gammu's per-phone lock.
            sm.Abort()

    async def _open(self) -> None:
        await self._call(self._open_sync, "Init", timeout=self._init_timeout)

    def _open_sync(self) -> None:
        """In the worker: a fresh StateMachine, Init, PIN, call notifications."""
        gammu = self._gammu
        sm = gammu.StateMachine()
        sm.SetConfig(0, self._gammu_config())
        self._busy_sm = sm  # Init can block for long: stop() must be able to abort it
        try:
            sm.Init()
            self._unlock_sim(sm)
            sm.SetIncomingCallback(self._on_incoming)
            try:
                sm.SetIncomingCall(True)
            except gammu.GSMError as exc:
                self._log.warning(
                    "no incoming call notifications: %s", translate_gammu_error(exc, "SetIncomingCall")
                )
        except BaseException:
            with contextlib.suppress(Exception):
                sm.Terminate()
            raise
        self._sm = sm

    def _unlock_sim(self, sm: Any) -> None:
        try:
            status = sm.GetSecurityStatus()
        except self._gammu.GSMError as exc:
            err = translate_gammu_error(exc, "GetSecurityStatus")
            if isinstance(err, LinkError):
                raise err from exc
            return  # not supported by this phone: assume no code is needed
        pin = self._phone.pin
        refused = self._refused_pins.refused(self._phone.device, pin)
        decision = decide_pin(sim_status_from_gammu(status), str(status), pin, refused_before=refused)
        if decision.error is not None:
            raise decision.error
        if decision.step is not PinStep.ENTER_PIN:
            return
        assert pin is not None
        try:
            sm.EnterSecurityCode("PIN", pin)
        except self._gammu.GSMError as exc:
            err = translate_gammu_error(exc, "EnterSecurityCode")
            if isinstance(err, LinkError):
                raise err from exc
            self._refused_pins.remember(self._phone.device, pin)
            raise refused_pin_error(err) from exc
        self._log.info("SIM PIN entered")

    def _terminate_sync(self) -> None:
        """In the worker: close the connection and drop our references to the StateMachine here, so
        that python-gammu frees it in this thread and never on the event loop."""
        sm, self._sm = self._sm, None
        if self._busy_sm is sm:
            self._busy_sm = None
        if sm is not None:
            sm.Terminate()

    def _on_incoming(self, _sm: Any, kind: str, data: Any) -> None:
        """libgammu's callback, in the worker thread during a libgammu call: only hand the event over."""
        try:
            if kind != "Call" or not isinstance(data, dict):
                return
            status = data.get("Status")
            event: ModemEvent
            if status in _CALL_RINGING:
                event = CallRinging(number=data.get("Number") or None)
            elif status in _CALL_ENDED:
                event = CallEnded()
            else:
                return
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._stream.emit, event)
        except Exception:  # an exception here would only be printed by python-gammu, then lost
            self._log.exception("incoming call callback failed")

    # -- supervision: polling, liveness, reconnect --------------------------------------------------

    async def _supervise(self) -> None:
        next_sweep = self._clock.monotonic()
        next_signal = next_sweep
        while self._state in (GammuState.CONNECTED, GammuState.DISCONNECTED):
            try:
                if self._lost is not None:
                    raise ModemGone(self._lost)
                now = self._clock.monotonic()
                if now >= next_sweep:
                    await self.sweep()
                    next_sweep = self._clock.monotonic() + self._phone.poll_interval
                if now >= next_signal:
                    await self._check_signal()
                    next_signal = self._clock.monotonic() + self._phone.liveness_interval
                # Lets libgammu read unsolicited lines (RING, +CLIP) and run the call callback.
                await self._call(lambda: self._need_sm().ReadDevice(False), "ReadDevice")
                await self._clock.sleep(self._tick)
            except LinkError as exc:
                await self._reconnect(str(exc))
                next_sweep = next_signal = self._clock.monotonic()
            except ModemError as exc:
                self._log.warning("gammu: %s", exc)
                await self._clock.sleep(self._phone.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end the phone's polling for good
                self._log.exception("gammu supervision failed; retrying")
                await self._clock.sleep(self._phone.poll_interval)

    async def _reconnect(self, reason: str) -> None:
        self._state = GammuState.DISCONNECTED
        self._log.warning("gammu phone lost: %s", reason)
        self._stream.emit(Disconnected(reason=reason))
        if self._worker is not None and self._worker.busy_with is not None:
            self._abort()  # free the worker from a call that may block for a long time
        attempt = 0
        while self._state is GammuState.DISCONNECTED:
            with contextlib.suppress(ModemError, LinkError):
                await self._call(self._terminate_sync, "Terminate", timeout=min(self._call_timeout, 10.0))
            self._sm = None
            await self._backoff_wait(self._policy.delay(attempt))
            try:
                await self._open()
            except (ModemError, LinkError) as exc:
                attempt += 1
                # A RESET is one more try here: libgammu has no reboot for a modem that does not answer,
                # and every try starts with a fresh Init.
                if self._policy.after_failure(exc) is Recovery.GIVE_UP:
                    self._log.error("giving up: %s", exc)
                    self._state = GammuState.FAILED
                    self._stream.emit(Disconnected(reason=str(exc)))
                    return
                self._log.info("gammu reconnect attempt %d failed: %s", attempt, exc)
                continue
            break
        if self._state is not GammuState.DISCONNECTED:
            return  # stop() was called meanwhile
        self._lost = None
        # Show what is still stored once more, as the AT backend does after a reconnect: a message
        # whose take-in failed gets another chance, and the supervisor recognises the ones it has.
        self._emitted.clear()
        self._state = GammuState.CONNECTED
        self._log.info("gammu phone back after %d failed attempt(s)", attempt)
        self._stream.emit(Reconnected())

    async def _backoff_wait(self, delay: float) -> None:
        """Sleep ``delay`` on the clock, unless :meth:`attach` is (or was meanwhile) called."""
        await sleep_or_until(self._clock, delay, self._attach)
        self._attach.clear()

    async def _check_signal(self) -> None:
        quality = await self._call(lambda: self._need_sm().GetSignalQuality(), "GetSignalQuality")
        rssi = rssi_from_quality(quality)
        if rssi != self._signal:
            self._signal = rssi
            self._stream.emit(SignalChanged(rssi=rssi))

    async def sweep(self) -> None:
        """Read every stored message once; emit the ones not emitted yet (and not deleted since).

        The supervision task calls it every ``poll_interval``; callers may ask for one sooner.
        """
        async with self._sweep_lock:
            await self._sweep()

    async def _sweep(self) -> None:
        self._deleting.clear()
        entries: list[list[dict[str, Any]]] = []
        location: int | None = None
        complete = False
        while len(entries) < _MAX_MESSAGES_PER_SWEEP:
            try:
                if location is None:
                    batch = await self._call(
                        lambda: self._need_sm().GetNextSMS(Folder=0, Start=True), "GetNextSMS"
                    )
                else:
                    batch = await self._call(
                        lambda loc=location: self._need_sm().GetNextSMS(Folder=0, Location=loc),  # type: ignore[misc]
                        "GetNextSMS",
                    )
            except NoMoreEntries:
                complete = True
                break
            except LinkError:
                raise
            except ModemError as exc:
                # libgammu choked on one stored message: still hand over what was read before it
                # (the rest waits for the next sweep). Losing the whole walk would hide them all.
                self._log.warning("gammu could not read past location %s: %s", location, exc)
                break
            if not batch or batch[0].get("Location") == location:
                break  # a driver that repeats itself: stop rather than loop
            entries.append(batch)
            location = batch[0]["Location"]
        if not entries:
            if complete:
                self._emitted.clear()
            return
        linked = await self._call(lambda: self._gammu.LinkSMS(entries), "LinkSMS")
        seen: set[MessageKey] = set()
        now = datetime.fromtimestamp(self._clock.time(), UTC)  # for messages gammu gives no time
        for group in linked:
            for part in group:
                key = message_key(part)
                seen.add(key)
                if self._emitted.seen(key) or (key[0], key[1]) in self._deleting:
                    continue
                event = event_from_gammu(part, now)
                if event is None:
                    continue
                self._emitted.add(key)
                self._stream.emit(event)
        if complete:
            self._emitted.keep_only(seen)

    def _identity_sync(self) -> Identity:
        """In the worker: everything the phone tells about itself; unsupported queries give None."""
        sm = self._need_sm()

        def ask(fn: Callable[[], Any], what: str) -> Any:
            try:
                return fn()
            except self._gammu.GSMError as exc:
                err = translate_gammu_error(exc, what)
                if isinstance(err, LinkError):
                    raise err from exc
                return None

        return identity_from_gammu(
            model=ask(sm.GetModel, "GetModel"),
            network=ask(sm.GetNetworkInfo, "GetNetworkInfo"),
            quality=ask(sm.GetSignalQuality, "GetSignalQuality"),
            manufacturer=ask(sm.GetManufacturer, "GetManufacturer"),
            imei=ask(sm.GetIMEI, "GetIMEI"),
            imsi=ask(sm.GetSIMIMSI, "GetSIMIMSI"),
            known_networks=self._gammu.GSMNetworks,
        )
