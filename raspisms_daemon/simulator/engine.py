"""A virtual GSM modem on a pseudo-terminal, speaking PDU-mode AT (3GPP TS 27.007 / 27.005).

Users run it (``raspisms-daemon simulate serve``) to try the daemon without hardware; tests use it as
the real peer of the AT backend, of libgammu and of the whole daemon. The client opens the pty slave
through the symlink at ``link`` exactly as it opens ``/dev/ttyUSB2``; the simulator reads and writes
the master side with ``loop.add_reader``.

What each AT command answers lives in :mod:`.commands` (the firmware, inherited);
this module is the engine: pty, line discipline, URCs, timers, the public API.
Personalities (:mod:`.personality`) reproduce the quirks of real modems; faults reproduce what
goes wrong with them (unplug, stall, errors, garbage). A control socket (:mod:`.control`) can drive
it from another process.

The pty master cannot tell "no client" from "client idle" by reading alone: a read gives ``EIO``
while no slave fd is open. So while nobody has the tty open the simulator polls for ``POLLHUP`` to
go away instead of reading, and it writes nothing (a real USB modem's bytes are lost while the port
is closed, and stale bytes in the pty would confuse the next client).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import random
import select
import termios
import tty
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from ..errors import PduError, RaspismsError
from ..gsm.pdu import SubmitPdu, decode, encode_deliver, encode_status_report
from .commands import (
    AtCommands,
    Call,
    Reply,
    Settings,
    Slot,
    number_type,
    split_commands,
    tpdu_length,
)
from .personality import Personality, Profile, profile_for

__all__ = ["Personality", "Simulator", "SimulatorError"]

log = logging.getLogger("raspisms_daemon.simulator")

_CTRL_Z = 0x1A
_ESC = 0x1B
_MAX_LINE = 4096
_MAX_OUT = 1 << 20
_REPORT_STATUS = {"delivered": 0x00, "failed": 0x41}
_DELETED_KEPT = 10_000
_FAULTS = ("unplug", "replug", "stall", "unstall", "garbage", "error", "sms_error", "drop_urcs")


class SimulatorError(RaspismsError):
    """A request the simulator cannot carry out (storage full, unknown fault, not started)."""


def _fault_count(kind: str, arg: str) -> int:
    """The ``n`` of ``error:n`` / ``drop_urcs:n`` (1 when absent)."""
    try:
        return max(0, int(arg)) if arg else 1
    except ValueError:
        raise SimulatorError(f"bad count in {kind!r}") from None


class Simulator(AtCommands):
    """One virtual modem. ``await start()``, talk to ``link`` with any serial client, ``await stop()``."""

    # Class attributes so that tests can speed the simulated world up (set them on the instance).
    ring_interval: ClassVar[float] = 1.0
    noise_interval: ClassVar[float] = 3.0
    reboot_delay: ClassVar[float] = 0.5
    send_delay: ClassVar[float] = 0.05
    probe_interval: ClassVar[float] = 0.02

    def __init__(
        self,
        link: Path | str,
        personality: Personality | str = "generic",
        *,
        pin: str | None = None,
        imei: str = "867000000000001",
        imsi: str = "208150000000001",
        iccid: str = "8933150000000000001",
        operator: str = "SIMNET",
        capacity: int = 30,
        noise: bool | None = None,
        smsc: str = "+33612000000",
        rssi: int = 20,
        last_mr: int = 0,
    ) -> None:
        self.link = Path(link)
        self.profile: Profile = profile_for(personality)
        self.personality = self.profile.personality
        self.pin = pin
        self.imei = imei
        self.imsi = imsi
        self.iccid = iccid
        self.operator = operator
        self.capacity = capacity
        self.smsc = smsc
        self.rssi = rssi
        self._noise_forced = noise
        self._settings = self._default_settings()
        self._sim_state = "SIM PIN" if pin else "READY"
        self._pin_attempts = 3
        self._slots: dict[int, Slot] = {}
        # Bounded: a simulator serving a demo for weeks must not grow without end.
        self._deleted: collections.deque[dict[str, Any]] = collections.deque(maxlen=_DELETED_KEPT)
        # Called at the moment of each deletion (before AT+CMGD is answered) with its log entry.
        self.on_delete: Callable[[dict[str, Any]], None] | None = None
        self._sent: list[dict[str, Any]] = []
        self._mr = last_mr % 256  # the TP-MR of the last SMS sent; the next one gets the one after
        self._concat_ref = random.randrange(256)
        self._reports_mode = "delivered"
        self._reports_delay = 0.0
        self._call: Call | None = None
        self._errors_pending = 0
        self._drop_urcs = 0
        self._sms_error = False
        self._stalled = False
        self._unplugged = False
        self._rebooting = False
        self._noise_count = 0
        # pty and I/O state
        self._master: int | None = None
        self.tty: str | None = None
        self._client = False
        self._reading = False
        self._probe_handle: asyncio.TimerHandle | None = None
        self._out = bytearray()
        self._writing = False
        self._rx: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._line = bytearray()
        self._prompt: int | None = None
        self._prompt_buf = bytearray()
        self._deferred: list[bytes] = []
        self._busy = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the pty and symlink it at ``link``."""
        if self._running:
            raise SimulatorError("simulator already started")
        self._loop = asyncio.get_running_loop()
        self._running = True
        try:
            self._open_pty()
            self._spawn(self._serve(), "serve")
            if self._noise_possible():
                self._spawn(self._noise_loop(), "noise")
        except BaseException:
            await self.stop()  # half-started: release the pty, the link and the tasks
            raise
        log.info("simulated %s modem on %s (%s)", self.personality.value, self.link, self.tty)

    async def stop(self) -> None:
        """Close everything; safe to call twice."""
        if not self._running:
            return
        self._running = False
        self._rx.put_nowait(None)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._close_pty()
        log.info("simulated modem on %s stopped", self.link)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"simulator-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------------ public API

    async def inject_sms(self, number: str, text: str, *, scts: datetime | None = None) -> list[int]:
        """The network delivers an SMS: stored (one slot per part) with ``+CMTI``, or ``+CMT`` when
        CNMI mt=2 and a client listens. Returns the storage indexes ([] when handed over directly)."""
        when = scts or datetime.now(UTC).astimezone().replace(microsecond=0)
        self._concat_ref = (self._concat_ref + 1) % 256
        parts = encode_deliver(number, text, scts=when, smsc=self.smsc, concat_ref=self._concat_ref)
        # CNMI <mode> 0 keeps indications in the modem (we drop them): the client must poll +CMGL.
        mode, mt = self._settings.cnmi[0], self._settings.cnmi[1]
        if mode == 0:
            mt = 0
        if mt == 2 and self._urcs_deliverable():
            for pdu in parts:
                self._urc(f"+CMT: ,{tpdu_length(pdu)}", pdu)
            log.info("sms from %s handed over directly (+CMT, %d part(s))", number, len(parts))
            return []
        if len(self._free_indexes()) < len(parts):
            raise SimulatorError(f"storage full ({len(self._slots)}/{self.capacity} used)")
        indexes = [self._store(pdu, "deliver") for pdu in parts]
        log.info("sms from %s stored at %s", number, indexes)
        return indexes

    async def inject_raw_pdu(self, pdu_hex: str, *, kind: str = "deliver") -> int:
        """Store ``pdu_hex`` as it is -- even a broken PDU -- in the next free slot, with the usual
        ``+CMTI`` (``kind="deliver"``) or ``+CDSI`` (``kind="status_report"``). Returns the index.

        For what the codec cannot produce: truncated or corrupt PDUs, other encoders' output."""
        if kind not in ("deliver", "status_report"):
            raise SimulatorError(f"unknown PDU kind {kind!r} (deliver, status_report)")
        try:
            raw = bytes.fromhex(pdu_hex)
        except ValueError:
            raise SimulatorError("the PDU must be hexadecimal") from None
        if not raw:
            raise SimulatorError("the PDU is empty")
        if not self._free_indexes():
            raise SimulatorError(f"storage full ({len(self._slots)}/{self.capacity} used)")
        index = self._store(pdu_hex.upper(), kind)
        log.info("raw %s PDU stored at %d", kind, index)
        return index

    def set_cnmi(self, mode: int, mt: int, bm: int = 0, ds: int = 0, bfr: int = 0) -> None:
        """Change the new-message indication settings as another program on the port would with
        ``AT+CNMI=…`` (e.g. ``set_cnmi(2, 2, 0, 1)``: SMS and reports handed over as ``+CMT``/``+CDS``).
        Values the personality refuses raise; ``ATZ`` and reboots restore the defaults."""
        if not self._set_cnmi((mode, mt, bm, ds, bfr)):
            values = f"{mode},{mt},{bm},{ds},{bfr}"
            raise SimulatorError(f"the {self.personality.value} modem refuses CNMI {values}")

    def set_reports(self, mode: str, delay: float = 0.0) -> None:
        """What the network answers for SMS sent from now on: "delivered", "failed" or "none"."""
        if mode not in ("delivered", "failed", "none"):
            raise SimulatorError(f"unknown report mode {mode!r} (delivered, failed, none)")
        if delay < 0:
            raise SimulatorError("report delay must be >= 0")
        self._reports_mode = mode
        self._reports_delay = float(delay)

    async def ring(self, number: str, ring_seconds: float | None = None) -> None:
        """An incoming call from ``number``; the caller hangs up after ``ring_seconds`` (None: never)."""
        if self._call is not None:
            raise SimulatorError("a call is already in progress")
        call = Call(number)
        self._call = call
        log.info("incoming call from %s", number)
        self._ring_once(call)
        self._spawn(self._ring_loop(call, ring_seconds), "ring")

    async def end_call(self, *, silent: bool = False) -> None:
        """The caller hangs up: ``NO CARRIER`` (``^CEND`` on Huawei), or with ``silent`` nothing at all
        (many modems just stop ringing when the caller gives up before an answer)."""
        call = self._call
        if call is None:
            return
        self._call = None
        call.ended.set()
        if not silent:
            self._urc(self.profile.call_end_urc)
        log.info("call from %s ended by the caller%s", call.number, " (silently)" if silent else "")

    async def fault(self, kind: str) -> None:
        """Inject a fault: unplug, replug, stall, unstall, garbage, error[:n], sms_error, drop_urcs[:n].

        ``drop_urcs[:n]``: the next n new-message indications (``+CMTI``/``+CDSI``) that a client
        would have received are lost, as real modems lose them; the messages stay stored for an
        ``AT+CMGL`` sweep to find. ``drop_urcs:0`` ends the fault."""
        name, _, arg = kind.partition(":")
        if name not in _FAULTS:
            raise SimulatorError(f"unknown fault {kind!r} (choose from {', '.join(_FAULTS)})")
        if not self._running:
            raise SimulatorError("simulator not started")
        log.info("fault: %s", kind)
        if name == "unplug":
            self._unplugged = True
            self._close_pty()
        elif name == "replug":
            # Unplugging powers the firmware down: a stall does not survive it (storage does).
            self._close_pty()
            self._unplugged = False
            self._stalled = False
            self._open_pty()
        elif name == "stall":
            self._stalled = True
        elif name == "unstall":
            self._stalled = False
        elif name == "garbage":
            junk = bytes([0x00, 0xFF, 0x80]) + bytes(random.choice(range(0x80, 0x100)) for _ in range(24))
            self._write(junk + b"\x00\xfe", force=True)
        elif name == "error":
            self._errors_pending = _fault_count(kind, arg)
        elif name == "drop_urcs":
            self._drop_urcs = _fault_count(kind, arg)
        elif name == "sms_error":
            self._sms_error = True

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: storage, what was sent, what was deleted, the call, active faults,
        settings.

        ``deleted`` has one entry per message each ``AT+CMGD`` removed (the last 10 000): ``at``
        (``time.monotonic()``), ``storage``, ``index``, ``kind`` and ``pdu``.
        ``settings.pin_attempts`` is what the SIM has left before it asks for the PUK."""
        faults: list[str] = []
        if self._unplugged:
            faults.append("unplugged")
        if self._stalled:
            faults.append("stalled")
        if self._errors_pending:
            faults.append(f"error:{self._errors_pending}")
        if self._sms_error:
            faults.append("sms_error")
        if self._drop_urcs:
            faults.append(f"drop_urcs:{self._drop_urcs}")
        s = self._settings
        return {
            "personality": self.personality.value,
            "link": str(self.link),
            "tty": self.tty,
            "client": self._client,
            "stored": [
                {
                    "index": slot.index,
                    "storage": self.profile.storage,
                    "pdu": slot.pdu,
                    "kind": slot.kind,
                    "read": slot.read,
                }
                for slot in sorted(self._slots.values(), key=lambda s: s.index)
            ],
            "sent": [dict(item) for item in self._sent],
            "deleted": [dict(item) for item in self._deleted],
            "call": None if self._call is None else {"number": self._call.number, "state": self._call.state},
            "faults": faults,
            "reports": {"mode": self._reports_mode, "delay": self._reports_delay},
            "settings": {
                "echo": s.echo,
                "cmee": s.cmee,
                "cnmi": list(s.cnmi),
                "clip": s.clip,
                "crc": s.crc,
                "creg": s.creg,
                "cfun": s.cfun,
                "sim": self._sim_state,
                "pin_attempts": self._pin_attempts,
                "noise": self._noise_on(),
            },
        }

    # ------------------------------------------------------------------ pty

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        name = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self.tty = name
        self._client = False
        tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(name, tmp)
        os.replace(tmp, self.link)  # atomic: a client never sees a missing or half-made link
        self._schedule_probe()

    def _close_pty(self) -> None:
        if self._probe_handle is not None:
            self._probe_handle.cancel()
            self._probe_handle = None
        if self._master is None:
            return
        loop = self._loop
        if loop is not None:
            if self._reading:
                loop.remove_reader(self._master)
            if self._writing:
                loop.remove_writer(self._master)
        self._reading = self._writing = False
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink() and os.readlink(self.link) == self.tty:
                self.link.unlink()
        os.close(self._master)
        self._master = None
        while not self._rx.empty():  # what the old client typed is gone with it
            self._rx.get_nowait()
        self._client = False
        self._out.clear()
        self._reset_input()

    def _reset_input(self) -> None:
        self._line.clear()
        self._prompt = None
        self._prompt_buf.clear()
        self._deferred.clear()

    def _slave_open(self) -> bool:
        """True while some client holds the tty open (no POLLHUP on the master)."""
        if self._master is None:
            return False
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        return not any(ev & select.POLLHUP for _, ev in poller.poll(0))

    def _schedule_probe(self) -> None:
        assert self._loop is not None
        self._probe_handle = self._loop.call_later(self.probe_interval, self._probe)

    def _probe(self) -> None:
        self._probe_handle = None
        if self._master is None:
            return
        if self._slave_open():
            assert self._loop is not None
            self._client = True
            self._reading = True
            self._loop.add_reader(self._master, self._on_readable)
            log.debug("client opened %s", self.link)
        else:
            self._schedule_probe()

    def _on_readable(self) -> None:
        assert self._master is not None and self._loop is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("pty read failed: %s", exc)
            data = b""
        if data:
            self._rx.put_nowait(data)
            return
        # The last client closed the tty: wait for the next one, dropping what it left unread.
        self._loop.remove_reader(self._master)
        self._reading = False
        self._client = False
        self._out.clear()
        self._reset_input()
        self._flush_slave_input()
        log.debug("client closed %s", self.link)
        self._schedule_probe()

    def _flush_slave_input(self) -> None:
        if self.tty is None:
            return
        try:
            fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            termios.tcflush(fd, termios.TCIFLUSH)
        finally:
            os.close(fd)

    def _write(self, data: bytes, *, force: bool = False) -> None:
        """Queue bytes for the client; dropped while nobody listens (or stalled, unless ``force``)."""
        if self._master is None or (self._stalled and not force) or not self._slave_open():
            log.debug("no client, dropped %r", data[:60])
            return
        if len(self._out) + len(data) > _MAX_OUT:
            log.warning("client is not reading; dropped %d bytes", len(data))
            return
        self._out += data
        self._flush_out()

    def _flush_out(self) -> None:
        assert self._loop is not None
        while self._out and self._master is not None:
            try:
                n = os.write(self._master, self._out)
            except BlockingIOError:
                if not self._writing:
                    self._loop.add_writer(self._master, self._flush_out)
                    self._writing = True
                return
            except OSError as exc:
                log.debug("pty write failed: %s", exc)
                self._out.clear()
                break
            del self._out[:n]
        if self._writing and self._master is not None:
            self._loop.remove_writer(self._master)
        self._writing = False

    # ------------------------------------------------------------------ URCs and noise

    def _store(self, pdu: str, kind: str) -> int:
        """File a message in the first free slot and indicate it (``+CMTI``/``+CDSI``) as CNMI says."""
        index = self._free_indexes()[0]
        self._slots[index] = Slot(index, kind, pdu)
        mode, mt, _bm, ds, _bfr = self._settings.cnmi
        if mode == 0:  # indications kept in the modem (we drop them): the client must poll +CMGL
            return index
        if kind == "deliver" and mt in (1, 3):
            self._indicate(f'+CMTI: "{self.profile.storage}",{index}')
        elif kind == "status_report" and ds == 2:
            self._indicate(f'+CDSI: "{self.profile.storage}",{index}')
        return index

    def _indicate(self, line: str) -> None:
        # drop_urcs counts only indications a client would have seen, so "n" means n missed by it.
        if self._drop_urcs > 0 and self._urcs_deliverable():
            self._drop_urcs -= 1
            log.info("fault drop_urcs: %s lost (%d more to lose)", line, self._drop_urcs)
            return
        self._urc(line)

    def _urcs_deliverable(self) -> bool:
        return (
            self._master is not None
            and not self._stalled
            and not self._rebooting
            and self._slave_open()  # not self._client: that lags a new client by a probe interval
        )

    def _urc(self, *lines: str) -> None:
        """Unsolicited result code. Held back while the link is reserved (V.250 / 27.005 CNMI mode 2:
        the client is typing a command line or a PDU, or a command is being answered), then sent."""
        data = ("\r\n" + "\r\n".join(lines) + "\r\n").encode()
        if not self._urcs_deliverable():
            log.debug("URC lost (nobody listening): %s", " / ".join(lines))
            return
        log.debug("URC -> %s", " / ".join(lines))
        if self._prompt is not None or self._line or self._busy:
            self._deferred.append(data)
        else:
            self._write(data)

    def _noise_possible(self) -> bool:
        return self._noise_forced is True or (self._noise_forced is None and self.profile.noise_default)

    def _noise_on(self) -> bool:
        if self._noise_forced is not None:
            return self._noise_forced
        return self.profile.noise_default and self._settings.curc != 0

    def _noise_line(self) -> str:
        self._noise_count += 1
        if self._noise_count % 3 == 0:
            return "^BOOT:20952812,0,0,0,72"
        return f"^RSSI:{self.rssi}"

    async def _noise_loop(self) -> None:
        while True:
            await asyncio.sleep(self.noise_interval)
            if self._noise_on():
                self._urc(self._noise_line())

    # ------------------------------------------------------------------ calls

    def _ring_once(self, call: Call) -> None:
        lines = ["+CRING: VOICE" if self._settings.crc else "RING"]
        if self._settings.clip:
            lines.append(f'+CLIP: "{call.number}",{number_type(call.number)},,,,0')
        self._urc(*lines)

    async def _ring_loop(self, call: Call, ring_seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if ring_seconds is None else loop.time() + ring_seconds
        while self._call is call:
            wait = self.ring_interval
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.ended.wait(), wait)
            if self._call is not call:
                return
            if deadline is not None and loop.time() >= deadline:
                await self.end_call()
                return
            if call.state == "ringing":
                self._ring_once(call)

    # ------------------------------------------------------------------ command loop

    async def _serve(self) -> None:
        while True:
            data = await self._rx.get()
            if data is None:
                return
            try:
                await self._consume(data)
            except Exception:
                # A bug in one command must not kill the modem: log it, drop the line, keep serving.
                log.exception("simulator failed on input %r", data[:80])
                self._reset_input()
                self._write(b"\r\nERROR\r\n")

    async def _consume(self, data: bytes) -> None:
        echo = bytearray()
        for byte in data:
            if self._rebooting:
                continue
            if self._prompt is not None:
                if byte == _CTRL_Z:
                    self._flush_echo(echo)
                    await self._submit()
                elif byte == _ESC:
                    self._flush_echo(echo)
                    log.debug("<- ESC (send cancelled)")
                    self._prompt = None
                    self._prompt_buf.clear()
                    self._write(b"\r\nOK\r\n")
                    self._flush_deferred()
                elif byte not in b"\r\n":
                    if len(self._prompt_buf) < _MAX_LINE:
                        self._prompt_buf.append(byte)
                    if self._settings.echo:
                        echo.append(byte)
                continue
            if self._settings.echo and not self._stalled:
                echo.append(byte)
            if byte == 0x0D:
                line = self._line.decode("latin-1")
                self._line.clear()
                self._flush_echo(echo)
                await self._execute(line)
                if self._prompt is None:
                    self._flush_deferred()
            elif byte == 0x08:
                if self._line:
                    self._line.pop()
            elif byte in (0x0A, 0x00, _CTRL_Z, _ESC):
                continue
            elif len(self._line) < _MAX_LINE:
                self._line.append(byte)
        self._flush_echo(echo)

    def _flush_echo(self, echo: bytearray) -> None:
        if echo:
            self._write(bytes(echo))
            echo.clear()

    def _flush_deferred(self) -> None:
        pending, self._deferred = self._deferred, []
        for data in pending:
            self._write(data)

    async def _execute(self, raw: str) -> None:
        text = raw.strip()
        if not text:
            return
        log.debug("<- %s", text)
        if not text[:2].upper() == "AT":
            log.debug("ignored a line without AT prefix: %r", text)
            return
        if self._stalled:
            # A stalled firmware still obeys a full reset, and nothing else.
            if text.upper().replace(" ", "") == "AT+CFUN=1,1":
                log.info("stalled modem reset by AT+CFUN=1,1")
                self._stalled = False
                self._start_reboot()
            return
        if self._errors_pending > 0:
            self._errors_pending -= 1
            self._finish(Reply(final=self._cms(500)))
            return
        try:
            commands = split_commands(text[2:])
        except ValueError:
            self._finish(Reply(final="ERROR"))
            return
        reply = Reply()
        afters: list[Callable[[], None]] = []
        for command in commands:
            one = self._dispatch(command)
            reply.records.extend(one.records)
            if one.after is not None:
                afters.append(one.after)
            if one.prompt is not None:
                reply.prompt = one.prompt
                break
            if one.final != "OK":
                reply.final = one.final
                afters.clear()
                break
        if reply.prompt is not None:
            self._prompt = reply.prompt
            self._prompt_buf.clear()
            log.debug("-> > (waiting for %d octets)", reply.prompt)
            self._write(b"\r\n> ")
            return
        self._finish(reply)
        for after in afters:
            after()

    def _finish(self, reply: Reply) -> None:
        out: list[str] = []
        noise = self._noise_on()
        for record in reply.records:
            out.append("\r\n" + "\r\n".join(record) + "\r\n")
            if noise:
                # Huawei interleaves its URCs between response lines; clients must cope.
                out.append("\r\n" + self._noise_line() + "\r\n")
        out.append(f"\r\n{reply.final}\r\n")
        log.debug("-> %s", " | ".join([*(" / ".join(r) for r in reply.records), reply.final]))
        self._write("".join(out).encode())

    def _default_settings(self) -> Settings:
        mem = self.profile.cpms_default
        return Settings(mems=(mem, mem, mem))

    def _apply_defaults(self) -> None:
        self._settings = self._default_settings()

    def _hangup_by_client(self) -> None:
        call = self._call
        if call is not None:
            self._call = None
            call.ended.set()
            log.info("call from %s hung up by the client", call.number)

    def _loop_call_soon(self, fn: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_soon(fn)

    async def _submit(self) -> None:
        expected = self._prompt or 0
        text = self._prompt_buf.decode("latin-1").strip()
        self._prompt = None
        self._prompt_buf.clear()
        log.debug("<- PDU %s (AT+CMGS=%d)", text, expected)
        self._busy = True
        try:
            final = await self._accept_submit(text, expected)
        finally:
            self._busy = False
        self._write(final.encode())
        self._flush_deferred()

    async def _accept_submit(self, pdu_hex: str, expected: int) -> str:
        if self._sms_error:
            self._sms_error = False
            return f"\r\n{self._cms(38)}\r\n"
        try:
            if not pdu_hex or tpdu_length(pdu_hex) != expected:
                raise PduError("length disagrees with AT+CMGS")
            submit = decode(pdu_hex, smsc=True)
            if not isinstance(submit, SubmitPdu):
                raise PduError("not an SMS-SUBMIT")
        except (ValueError, PduError) as exc:
            log.info("refused PDU %r: %s", pdu_hex, exc)
            return f"\r\n{self._cms(304)}\r\n"
        if not self._registered():
            return f"\r\n{self._cms(331)}\r\n"
        await asyncio.sleep(self.send_delay)  # the round trip to the SMSC
        self._mr = (self._mr + 1) % 256
        mr = self._mr
        self._sent.append({"pdu": pdu_hex.upper(), "mr": mr, "number": submit.number, "text": submit.text})
        log.info("sms to %s sent (mr=%d)", submit.number, mr)
        if submit.status_report_request and self._reports_mode != "none":
            status = _REPORT_STATUS[self._reports_mode]
            self._spawn(self._report_later(mr, submit.number, status, self._reports_delay), "report")
        return f"\r\n+CMGS: {mr}\r\n\r\nOK\r\n"

    async def _report_later(self, mr: int, number: str, status: int, delay: float) -> None:
        submitted = datetime.now(UTC).astimezone().replace(microsecond=0)
        await asyncio.sleep(delay)
        discharge = submitted + timedelta(seconds=max(1, round(delay)))
        pdu = encode_status_report(
            mr, number, status=status, scts=submitted, discharge=discharge, smsc=self.smsc
        )
        ds = self._settings.cnmi[3] if self._settings.cnmi[0] != 0 else 0
        if ds == 1 and self._urcs_deliverable():
            self._urc(f"+CDS: {tpdu_length(pdu)}", pdu)
            log.info("status report for mr=%d routed directly (+CDS)", mr)
            return
        if not self._free_indexes():
            log.warning("storage full: status report for mr=%d dropped", mr)
            return
        index = self._store(pdu, "status_report")
        log.info("status report for mr=%d stored at %d", mr, index)

    def _start_reboot(self) -> None:
        self._spawn(self._reboot(), "reboot")

    async def _reboot(self) -> None:
        """AT+CFUN=1,1: silent for a moment, then back with default settings and boot URCs."""
        self._rebooting = True
        self._hangup_by_client()
        self._reset_input()
        try:
            await asyncio.sleep(self.reboot_delay)
        finally:
            self._rebooting = False
        self._stalled = False
        self._apply_defaults()
        self._sim_state = "SIM PIN" if self.pin else "READY"
        self._pin_attempts = 3
        log.info("modem rebooted")
        for line in self.profile.boot_urcs:
            self._urc(self._fmt(line))
