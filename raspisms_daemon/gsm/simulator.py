"""A virtual GSM modem on a pseudo-terminal, speaking PDU-mode AT (3GPP TS 27.007 / 27.005).

Users run it (``raspisms-daemon simulate serve``) to try the daemon without hardware; tests use it as
the real peer of the AT backend, of libgammu and of the whole daemon. The client opens the pty slave
through the symlink at ``link`` exactly as it opens ``/dev/ttyUSB2``; the simulator reads and writes
the master side with ``loop.add_reader``.

Personalities (:mod:`.sim_personality`) reproduce the quirks of real modems; faults reproduce what
goes wrong with them (unplug, stall, errors, garbage). A unix socket at ``<link>.ctl`` takes one JSON
request per line (:mod:`.sim_control`).

The pty master cannot tell "no client" from "client idle" by reading alone: a read gives ``EIO``
while no slave fd is open. So while nobody has the tty open the simulator polls for ``POLLHUP`` to
go away instead of reading, and it writes nothing (a real USB modem's bytes are lost while the port
is closed, and stale bytes in the pty would confuse the next client).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import select
import termios
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import PduError, RaspismsError
from .pdu import SubmitPdu, decode, encode_deliver, encode_status_report
from .sim_personality import Personality, Profile, profile_for

if TYPE_CHECKING:
    from .sim_control import ControlServer

__all__ = ["Personality", "Simulator", "SimulatorError"]

log = logging.getLogger("raspisms_daemon.simulator")

_CTRL_Z = 0x1A
_ESC = 0x1B
_MAX_LINE = 4096
_MAX_OUT = 1 << 20
_REPORT_STATUS = {"delivered": 0x00, "failed": 0x41}
_FAULTS = ("unplug", "replug", "stall", "unstall", "garbage", "error", "sms_error")

# +CME ERROR texts for AT+CMEE=2 (27.007 §9.2); codes not listed are given as numbers.
_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    16: "incorrect password",
    21: "invalid index",
    100: "unknown",
}


class SimulatorError(RaspismsError):
    """A request the simulator cannot carry out (storage full, unknown fault, not started)."""


@dataclass
class _Settings:
    """What ATZ / AT+CFUN=1,1 put back to defaults."""

    echo: bool = True
    cmee: int = 0
    cnmi: tuple[int, int, int, int, int] = (1, 1, 0, 0, 0)
    clip: bool = False
    crc: bool = False
    creg: int = 0
    curc: int = 1
    cfun: int = 1
    cscs: str = "IRA"
    mems: tuple[str, str, str] = ("SM", "SM", "SM")


@dataclass
class _Slot:
    index: int
    kind: str  # "deliver" | "status_report"
    pdu: str
    read: bool = False


@dataclass
class _Call:
    number: str
    state: str = "ringing"  # "ringing" | "active"
    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Reply:
    records: list[list[str]] = field(default_factory=list)
    final: str = "OK"
    prompt: int | None = None  # AT+CMGS=<length>: enter the "> " prompt expecting this TPDU length
    after: Callable[[], None] | None = None  # runs once the final result code is written


def _split_args(text: str) -> list[str]:
    """``"SM","ME",3`` -> ``["SM", "ME", "3"]`` (quotes removed, commas inside quotes kept)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def _split_commands(body: str) -> list[str]:
    """Split what follows ``AT`` into single commands: ``E0V1+CMGF=0;+CNMI?`` -> 4 commands."""
    cmds: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch in " ;":
            i += 1
        elif ch in "+^":
            j = i + 1
            quoted = False
            while j < n and (quoted or body[j] != ";"):
                if body[j] == '"':
                    quoted = not quoted
                j += 1
            cmds.append(body[i:j])
            i = j
        elif ch == "&":
            j = i + 2
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        elif ch.upper() == "S" and i + 1 < n and body[i + 1].isdigit():
            j = i + 1
            while j < n and body[j] not in ";+^&":
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        elif ch.upper() == "D":  # dial takes the rest of the line
            cmds.append(body[i:])
            i = n
        elif ch.isalpha():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            cmds.append(body[i:j].upper())
            i = j
        else:
            raise ValueError(f"unexpected {ch!r} in command line")
    return cmds


def _tpdu_length(pdu_hex: str) -> int:
    raw = bytes.fromhex(pdu_hex)
    return len(raw) - 1 - raw[0]


def _number_type(number: str) -> int:
    return 145 if number.startswith("+") else 129


class Simulator:
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
        control: bool = True,
        noise: bool | None = None,
        smsc: str = "+33612000000",
        rssi: int = 20,
    ) -> None:
        self.link = Path(link)
        self.ctl_path = Path(f"{self.link}.ctl")
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
        self._control = control
        self._noise_forced = noise
        self._settings = self._default_settings()
        self._sim_state = "SIM PIN" if pin else "READY"
        self._pin_attempts = 3
        self._slots: dict[int, _Slot] = {}
        self._sent: list[dict[str, Any]] = []
        self._mr = 0
        self._concat_ref = random.randrange(256)
        self._reports_mode = "delivered"
        self._reports_delay = 0.0
        self._call: _Call | None = None
        self._errors_pending = 0
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
        self._server: ControlServer | None = None
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the pty, symlink it at ``link``, start the control socket ``<link>.ctl``."""
        if self._running:
            raise SimulatorError("simulator already started")
        self._loop = asyncio.get_running_loop()
        self._running = True
        try:
            self._open_pty()
            self._spawn(self._serve(), "serve")
            if self._noise_possible():
                self._spawn(self._noise_loop(), "noise")
            if self._control:
                from .sim_control import start_control_server

                self._server = await start_control_server(self, self.ctl_path)
        except BaseException:
            await self.stop()  # half-started: release the pty, the link and the tasks
            raise
        log.info(
            "simulated %s modem on %s (%s)%s",
            self.personality.value,
            self.link,
            self.tty,
            f", control socket {self.ctl_path}" if self._control else "",
        )

    async def stop(self) -> None:
        """Close everything; safe to call twice."""
        if not self._running:
            return
        self._running = False
        if self._server is not None:
            await self._server.close()
            self._server = None
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
                self._urc(f"+CMT: ,{_tpdu_length(pdu)}", pdu)
            log.info("sms from %s handed over directly (+CMT, %d part(s))", number, len(parts))
            return []
        free = self._free_indexes()
        if len(free) < len(parts):
            raise SimulatorError(f"storage full ({len(self._slots)}/{self.capacity} used)")
        indexes: list[int] = []
        for pdu, index in zip(parts, free, strict=False):
            self._slots[index] = _Slot(index, "deliver", pdu)
            indexes.append(index)
            if mt in (1, 3):
                self._urc(f'+CMTI: "{self.profile.storage}",{index}')
        log.info("sms from %s stored at %s", number, indexes)
        return indexes

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
        call = _Call(number)
        self._call = call
        log.info("incoming call from %s", number)
        self._ring_once(call)
        self._spawn(self._ring_loop(call, ring_seconds), "ring")

    async def end_call(self) -> None:
        """The caller hangs up: ``NO CARRIER`` (``^CEND`` on Huawei)."""
        call = self._call
        if call is None:
            return
        self._call = None
        call.ended.set()
        self._urc(self.profile.call_end_urc)
        log.info("call from %s ended by the caller", call.number)

    async def fault(self, kind: str) -> None:
        """Inject a fault: unplug, replug, stall, unstall, garbage, error[:n], sms_error."""
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
            try:
                count = int(arg) if arg else 1
            except ValueError:
                raise SimulatorError(f"bad error count in {kind!r}") from None
            self._errors_pending = max(0, count)
        elif name == "sms_error":
            self._sms_error = True

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: storage, what was sent, the call, active faults, settings."""
        faults: list[str] = []
        if self._unplugged:
            faults.append("unplugged")
        if self._stalled:
            faults.append("stalled")
        if self._errors_pending:
            faults.append(f"error:{self._errors_pending}")
        if self._sms_error:
            faults.append("sms_error")
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

    def _ring_once(self, call: _Call) -> None:
        lines = ["+CRING: VOICE" if self._settings.crc else "RING"]
        if self._settings.clip:
            lines.append(f'+CLIP: "{call.number}",{_number_type(call.number)},,,,0')
        self._urc(*lines)

    async def _ring_loop(self, call: _Call, ring_seconds: float | None) -> None:
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
            self._finish(_Reply(final=self._cms(500)))
            return
        try:
            commands = _split_commands(text[2:])
        except ValueError:
            self._finish(_Reply(final="ERROR"))
            return
        reply = _Reply()
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

    def _finish(self, reply: _Reply) -> None:
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

    # ------------------------------------------------------------------ errors

    def _cme(self, code: int) -> str:
        if self._settings.cmee == 0:
            return "ERROR"
        if self._settings.cmee == 2 and code in _CME_TEXT:
            return f"+CME ERROR: {_CME_TEXT[code]}"
        return f"+CME ERROR: {code}"

    def _cms(self, code: int) -> str:
        return "ERROR" if self._settings.cmee == 0 else f"+CMS ERROR: {code}"

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, command: str) -> _Reply:
        if command[0] in "+^":
            name_end = len(command)
            for i, ch in enumerate(command):
                if ch in "=?":
                    name_end = i
                    break
            name = command[:name_end].upper()
            rest = command[name_end:]
            if rest.startswith("=?"):
                op, args = "=?", ""
            elif rest.startswith("="):
                op, args = "=", rest[1:]
            elif rest.startswith("?"):
                op, args = "?", ""
            else:
                op, args = "", ""
            handler = self._EXTENDED.get(name)
            if handler is None:
                log.debug("unknown command AT%s", command)
                return _Reply(final="ERROR")
            try:
                return handler(self, op, args)
            except (ValueError, IndexError):
                return _Reply(final=self._cme(3))
        return self._basic(command)

    def _basic(self, command: str) -> _Reply:
        letter = command[0].upper()
        arg = command[1:]
        if command.startswith("&") or letter in "QVX" or (letter == "S" and arg[:1].isdigit()):
            return _Reply()  # &F &W &C &D Q V X S<n>=: accepted, nothing to simulate
        if letter == "E":
            self._settings.echo = arg not in ("", "0")  # V.250: a missing value means 0
            return _Reply()
        if letter == "Z":
            self._apply_defaults()
            return _Reply()
        if letter == "I":
            return _Reply([[self._fmt(line) for line in self.profile.ati]])
        if letter == "H":
            self._hangup_by_client()
            return _Reply()
        if letter == "A":
            if self._call is None:
                return _Reply(final="NO CARRIER")
            self._call.state = "active"
            return _Reply()
        if letter == "D":
            return _Reply(final="NO CARRIER")
        return _Reply(final="ERROR")

    def _fmt(self, template: str) -> str:
        return template.format(
            manufacturer=self.profile.manufacturer,
            model=self.profile.model,
            revision=self.profile.revision,
            imei=self.imei,
            cpin=self._sim_state,
        )

    def _default_settings(self) -> _Settings:
        mem = self.profile.cpms_default
        return _Settings(mems=(mem, mem, mem))

    def _apply_defaults(self) -> None:
        self._settings = self._default_settings()

    def _hangup_by_client(self) -> None:
        call = self._call
        if call is not None:
            self._call = None
            call.ended.set()
            log.info("call from %s hung up by the client", call.number)

    def _sim_ready(self) -> bool:
        return self._sim_state == "READY"

    def _registered(self) -> bool:
        return self._sim_ready() and self._settings.cfun == 1

    def _sim_locked_reply(self, sms: bool) -> _Reply:
        if self._sim_state == "READY":
            raise AssertionError("SIM is not locked")
        code = 12 if self._sim_state == "SIM PUK" else 11
        return _Reply(final=self._cms(311 if code == 11 else 316) if sms else self._cme(code))

    # identification --------------------------------------------------

    def _h_cgmi(self, op: str, args: str) -> _Reply:
        return _Reply() if op == "=?" else _Reply([[self.profile.manufacturer]])

    def _h_cgmm(self, op: str, args: str) -> _Reply:
        return _Reply() if op == "=?" else _Reply([[self.profile.model]])

    def _h_cgmr(self, op: str, args: str) -> _Reply:
        return _Reply() if op == "=?" else _Reply([[self.profile.revision]])

    def _h_cgsn(self, op: str, args: str) -> _Reply:
        return _Reply() if op == "=?" else _Reply([[self.imei]])

    def _h_cimi(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=False)
        return _Reply([[self.imsi]])

    def _h_iccid(self, op: str, args: str) -> _Reply:
        if not self._sim_ready():
            return self._sim_locked_reply(sms=False)
        return _Reply([[f"{self.profile.iccid_prefix}{self.iccid}"]])

    def _h_ccid(self, op: str, args: str) -> _Reply:
        if self.profile.iccid_command != "+CCID" or op == "=":
            return _Reply(final="ERROR")
        return _Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_qccid(self, op: str, args: str) -> _Reply:
        if self.profile.iccid_command != "+QCCID" or op not in ("", "=?"):
            return _Reply(final="ERROR")
        return _Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_hw_iccid(self, op: str, args: str) -> _Reply:
        if self.profile.iccid_command != "^ICCID?" or op not in ("?", "=?"):
            return _Reply(final="ERROR")
        return _Reply() if op == "=?" else self._h_iccid(op, args)

    def _h_gcap(self, op: str, args: str) -> _Reply:
        return _Reply([["+GCAP: +CGSM,+DS,+ES"]])

    # settings --------------------------------------------------------

    def _h_cmee(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[f"+CMEE: {self._settings.cmee}"]])
        if op == "=?":
            return _Reply([["+CMEE: (0-2)"]])
        value = int(args or "0")
        if value not in (0, 1, 2):
            return _Reply(final=self._cme(3))
        self._settings.cmee = value
        return _Reply()

    def _h_cpin(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[f"+CPIN: {self._sim_state}"]])
        if op == "=?":
            return _Reply()
        given = _split_args(args)
        if self._sim_state == "READY":
            return _Reply(final=self._cme(3))
        if self._sim_state == "SIM PUK":
            return _Reply(final=self._cme(12))
        if given[0] == self.pin:
            self._sim_state = "READY"
            self._pin_attempts = 3
            log.info("SIM unlocked")
            if self._settings.creg:
                self._loop_call_soon(lambda: self._urc(self._creg_line(urc=True)))
            return _Reply()
        self._pin_attempts -= 1
        if self._pin_attempts <= 0:
            self._sim_state = "SIM PUK"
        log.info("wrong PIN (%d attempt(s) left)", self._pin_attempts)
        return _Reply(final=self._cme(16))

    def _loop_call_soon(self, fn: Callable[[], None]) -> None:
        assert self._loop is not None
        self._loop.call_soon(fn)

    def _h_cmgf(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([["+CMGF: 0"]])
        if op == "=?":
            return _Reply([["+CMGF: (0)"]])
        if (args or "0") != "0":
            return _Reply(final=self._cms(303))  # text mode is not simulated: PDU only
        return _Reply()

    def _h_cscs(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[f'+CSCS: "{self._settings.cscs}"']])
        if op == "=?":
            return _Reply([['+CSCS: ("IRA","GSM","UCS2")']])
        value = _split_args(args)[0].upper()
        if value not in ("IRA", "GSM", "UCS2"):
            return _Reply(final=self._cme(4))
        self._settings.cscs = value
        return _Reply()

    def _h_csdh(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([["+CSDH: 0"]])
        if op == "=?":
            return _Reply([["+CSDH: (0,1)"]])
        return _Reply()

    def _h_csms(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([["+CSMS: 0,1,1,1"]])
        if op == "=?":
            return _Reply([["+CSMS: (0,1)"]])
        if (args or "0") not in ("0", "1"):
            return _Reply(final=self._cms(303))
        return _Reply([["+CSMS: 1,1,1"]])

    def _h_csca(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        if op == "?":
            return _Reply([[f'+CSCA: "{self.smsc}",{_number_type(self.smsc)}']])
        number = _split_args(args)[0]
        if not number:
            return _Reply(final=self._cms(304))
        self.smsc = number
        return _Reply()

    def _h_cpms(self, op: str, args: str) -> _Reply:
        names = ",".join(f'"{s}"' for s in self.profile.storages)
        if op == "=?":
            return _Reply([[f"+CPMS: ({names}),({names}),({names})"]])
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        cap = self.capacity
        if op == "?":
            m = self._settings.mems
            u = [self._used(mem) for mem in m]
            return _Reply([[f'+CPMS: "{m[0]}",{u[0]},{cap},"{m[1]}",{u[1]},{cap},"{m[2]}",{u[2]},{cap}']])
        wanted = [a.upper() for a in _split_args(args) if a]
        if not wanted or len(wanted) > 3 or any(w not in self.profile.storages for w in wanted):
            return _Reply(final=self._cms(302))
        mems = list(self._settings.mems)
        mems[: len(wanted)] = wanted
        self._settings.mems = (mems[0], mems[1], mems[2])
        u = [self._used(mem) for mem in mems]
        return _Reply([[f"+CPMS: {u[0]},{cap},{u[1]},{cap},{u[2]},{cap}"]])

    def _h_cnmi(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([["+CNMI: " + ",".join(str(v) for v in self._settings.cnmi)]])
        if op == "=?":
            return _Reply([[self.profile.cnmi_test]])
        values = [int(v) if v else 0 for v in _split_args(args)]
        values += [0] * (5 - len(values))
        if len(values) > 5:
            return _Reply(final=self._cms(303))
        mode, mt, bm, ds, bfr = values
        if mode not in (0, 1, 2, 3) or mt not in (0, 1, 2, 3) or bm not in (0, 2) or bfr not in (0, 1):
            return _Reply(final=self._cms(303))
        if ds not in self.profile.cnmi_ds:
            log.debug("CNMI ds=%d refused by the %s personality", ds, self.personality.value)
            return _Reply(final=self._cms(303))
        self._settings.cnmi = (mode, mt, bm, ds, bfr)
        return _Reply()

    def _h_cnma(self, op: str, args: str) -> _Reply:
        return _Reply()  # acknowledgements of +CMT/+CDS: nothing to retransmit in a simulation

    def _h_csq(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply([["+CSQ: (0-31,99),(0-7,99)"]])
        rssi = self.rssi if self._settings.cfun == 1 else 99
        return _Reply([[f"+CSQ: {rssi},99"]])

    def _creg_line(self, urc: bool = False) -> str:
        n = self._settings.creg
        stat = 1 if self._registered() else 0
        loc = ',"1A2B","C3D4"' if n == 2 and stat == 1 else ""
        return f"+CREG: {stat}{loc}" if urc else f"+CREG: {n},{stat}{loc}"

    def _h_creg(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[self._creg_line()]])
        if op == "=?":
            return _Reply([["+CREG: (0-2)"]])
        value = int(args or "0")
        if value not in (0, 1, 2):
            return _Reply(final=self._cme(3))
        self._settings.creg = value
        return _Reply()

    def _h_cops(self, op: str, args: str) -> _Reply:
        if op == "?":
            if not self._registered():
                return _Reply([["+COPS: 0"]])
            return _Reply([[f'+COPS: 0,0,"{self.operator}"{self.profile.cops_suffix}']])
        if op == "=?":
            return _Reply([[f'+COPS: (2,"{self.operator}","{self.operator[:8]}","20815",2),,(0-4),(0-2)']])
        return _Reply()

    def _h_cfun(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[f"+CFUN: {self._settings.cfun}"]])
        if op == "=?":
            return _Reply([["+CFUN: (0,1,4),(0,1)"]])
        values = _split_args(args)
        fun = int(values[0] or "1")
        if fun not in (0, 1, 4):
            return _Reply(final=self._cme(3))
        if len(values) > 1 and values[1] == "1":
            return _Reply(after=self._start_reboot)
        self._settings.cfun = fun
        return _Reply()

    def _h_clip(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[f"+CLIP: {int(self._settings.clip)},1"]])
        if op == "=?":
            return _Reply([["+CLIP: (0,1)"]])
        self._settings.clip = (args or "0") == "1"
        return _Reply()

    def _h_crc(self, op: str, args: str) -> _Reply:
        if op == "?":
            return _Reply([[f"+CRC: {int(self._settings.crc)}"]])
        if op == "=?":
            return _Reply([["+CRC: (0,1)"]])
        self._settings.crc = (args or "0") == "1"
        return _Reply()

    def _h_clcc(self, op: str, args: str) -> _Reply:
        call = self._call
        if op == "=?" or call is None:
            return _Reply()
        stat = 4 if call.state == "ringing" else 0
        return _Reply([[f'+CLCC: 1,1,{stat},0,0,"{call.number}",{_number_type(call.number)}']])

    def _h_chup(self, op: str, args: str) -> _Reply:
        self._hangup_by_client()
        return _Reply()

    def _h_curc(self, op: str, args: str) -> _Reply:
        if self.personality is not Personality.HUAWEI:
            return _Reply(final="ERROR")
        if op == "?":
            return _Reply([[f"^CURC: {self._settings.curc}"]])
        if op == "=?":
            return _Reply([["^CURC: (0-1)"]])
        self._settings.curc = int(args or "0")
        return _Reply()

    def _h_portsel(self, op: str, args: str) -> _Reply:
        # Huawei: which port carries URCs (libgammu sends ^PORTSEL=1 to any Huawei).
        if self.personality is not Personality.HUAWEI:
            return _Reply(final="ERROR")
        return _Reply([["^PORTSEL: 0"]]) if op == "?" else _Reply()

    def _h_cpbs(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply([['+CPBS: ("SM","FD","ON")']])
        if op == "?":
            return _Reply([['+CPBS: "SM",0,250']])
        return _Reply()

    def _h_cpbr(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply([["+CPBR: (1-250),40,18"]])
        return _Reply()

    # messages --------------------------------------------------------

    def _holds(self, mem: str) -> bool:
        """Messages live in the personality's storage ("MT" is SM+ME); the other storages are empty,
        so a client that lists every storage (libgammu does) sees each message once."""
        return mem.removesuffix("_P") in (self.profile.storage, "MT")

    def _used(self, mem: str) -> int:
        return len(self._slots) if self._holds(mem) else 0

    def _read_slots(self) -> dict[int, _Slot]:
        """The slots of the storage AT+CPMS chose for reading and deleting."""
        return self._slots if self._holds(self._settings.mems[0]) else {}

    def _free_indexes(self) -> list[int]:
        first = self.profile.first_index
        return [i for i in range(first, first + self.capacity) if i not in self._slots]

    def _shown_pdu(self, slot: _Slot) -> str:
        pad = self.profile.pad_pdu_to
        if pad is None:
            return slot.pdu
        octets = len(slot.pdu) // 2
        return slot.pdu + "FF" * max(0, pad - octets)

    def _index_arg(self, text: str) -> int | None:
        index = int(text)
        first = self.profile.first_index
        return index if first <= index < first + self.capacity else None

    def _h_cmgr(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        index = self._index_arg(_split_args(args)[0])
        if index is None:
            return _Reply(final=self._cms(321))
        slot = self._read_slots().get(index)
        if slot is None:
            if self.personality is Personality.SIM800:
                return _Reply()  # SIM800 answers a bare OK for an empty slot
            return _Reply(final=self._cms(321))
        stat = int(slot.read)
        slot.read = True
        return _Reply([[f"+CMGR: {stat},,{_tpdu_length(slot.pdu)}", self._shown_pdu(slot)]])

    def _h_cmgl(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply([["+CMGL: (0-4)"]])
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        wanted = int(args or "0")
        if wanted not in (0, 1, 2, 3, 4):
            return _Reply(final=self._cms(302))
        records: list[list[str]] = []
        for slot in sorted(self._read_slots().values(), key=lambda s: s.index):
            stat = int(slot.read)
            if wanted != 4 and stat != wanted:
                continue
            slot.read = True
            records.append([f"+CMGL: {slot.index},{stat},,{_tpdu_length(slot.pdu)}", self._shown_pdu(slot)])
        return _Reply(records)

    def _h_cmgd(self, op: str, args: str) -> _Reply:
        if op == "=?":
            used = ",".join(str(i) for i in sorted(self._read_slots()))
            return _Reply([[f"+CMGD: ({used}),(0-4)"]])
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        values = _split_args(args)
        flag = int(values[1]) if len(values) > 1 and values[1] else 0
        if flag not in (0, 1, 2, 3, 4):
            return _Reply(final=self._cms(302))
        if flag == 0:
            index = self._index_arg(values[0])
            if index is None:
                return _Reply(final=self._cms(321))
            self._read_slots().pop(index, None)
        else:
            # Only received messages here; 2..4 would also take sent/unsent ones, which we never store.
            slots = self._read_slots()
            for i in [i for i, s in slots.items() if flag == 4 or s.read]:
                del slots[i]
        log.debug("deleted; %d message(s) left", len(self._slots))
        return _Reply()

    def _h_cmgs(self, op: str, args: str) -> _Reply:
        if op == "=?":
            return _Reply()
        if not self._sim_ready():
            return self._sim_locked_reply(sms=True)
        length = int(_split_args(args)[0])
        if not 7 <= length <= 164:
            return _Reply(final=self._cms(304))
        return _Reply(prompt=length)

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
            raw = bytes.fromhex(pdu_hex)
            if not raw or len(raw) - 1 - raw[0] != expected:
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
            self._urc(f"+CDS: {_tpdu_length(pdu)}", pdu)
            log.info("status report for mr=%d routed directly (+CDS)", mr)
            return
        free = self._free_indexes()
        if not free:
            log.warning("storage full: status report for mr=%d dropped", mr)
            return
        index = free[0]
        self._slots[index] = _Slot(index, "status_report", pdu)
        log.info("status report for mr=%d stored at %d", mr, index)
        if ds == 2:
            self._urc(f'+CDSI: "{self.profile.storage}",{index}')

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

    _EXTENDED: ClassVar[dict[str, Callable[[Simulator, str, str], _Reply]]] = {
        "+CGMI": _h_cgmi,
        "+GMI": _h_cgmi,
        "+CGMM": _h_cgmm,
        "+GMM": _h_cgmm,
        "+CGMR": _h_cgmr,
        "+GMR": _h_cgmr,
        "+CGSN": _h_cgsn,
        "+GSN": _h_cgsn,
        "+CIMI": _h_cimi,
        "+CCID": _h_ccid,
        "+QCCID": _h_qccid,
        "^ICCID": _h_hw_iccid,
        "+GCAP": _h_gcap,
        "+CMEE": _h_cmee,
        "+CPIN": _h_cpin,
        "+CMGF": _h_cmgf,
        "+CSCS": _h_cscs,
        "+CSDH": _h_csdh,
        "+CSMS": _h_csms,
        "+CSCA": _h_csca,
        "+CPMS": _h_cpms,
        "+CNMI": _h_cnmi,
        "+CNMA": _h_cnma,
        "+CSQ": _h_csq,
        "+CREG": _h_creg,
        "+COPS": _h_cops,
        "+CFUN": _h_cfun,
        "+CLIP": _h_clip,
        "+CRC": _h_crc,
        "+CLCC": _h_clcc,
        "+CHUP": _h_chup,
        "^CURC": _h_curc,
        "^PORTSEL": _h_portsel,
        "+CPBS": _h_cpbs,
        "+CPBR": _h_cpbr,
        "+CMGR": _h_cmgr,
        "+CMGL": _h_cmgl,
        "+CMGD": _h_cmgd,
        "+CMGS": _h_cmgs,
    }
