"""A virtual GSM modem on a pseudo-terminal, speaking PDU-mode AT (3GPP TS 27.007 / 27.005).

Users run it (``raspisms-daemon simulate serve``) to try the daemon without hardware; tests use it as
the real peer of the AT backend, of libgammu and of the whole daemon. :class:`Simulator` puts the
pieces together and runs them: the pty (:mod:`.pty`), the line discipline (:mod:`.line`), the
firmware's answers (:mod:`.commands`) on the modem's state (:mod:`.modem`), URCs (:mod:`.urcs`) and
faults (:mod:`.faults`); it owns the timers (rings, reports, reboots, noise) and the public API that
plays the network's part (SMS in, reports, calls). A control socket (:mod:`.control`) can drive it
from another process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..clock import within
from ..errors import PduError
from ..gsm.at_protocol import redact
from ..gsm.pdu import SubmitPdu, decode, encode_deliver, encode_status_report
from .commands import AtCommands, Reply
from .faults import Faults, fault_name, garbage
from .line import CommandLine, LineDiscipline, PduEntered
from .modem import Call, ModemState, SimulatorError, tpdu_length
from .personality import CPMS_FORMS, Personality, Profile, profile_for
from .pty import Pty
from .urcs import Noise, UrcGate, direct_delivery, ring_lines, routes_directly, stored_indication

__all__ = ["Simulator"]

log = logging.getLogger("raspisms_daemon.simulator")

# The TP-Status of the report the network sends for each report mode.
_REPORT_STATUS = {"delivered": 0x00, "failed": 0x41}
# How lines end: CR LF (V.250's default), or a bare CR as some firmware sends.
LINE_ENDINGS = {"crlf": b"\r\n", "cr": b"\r"}
_HEARD_KEPT = 200


class Simulator:
    """One virtual modem. ``await start()``, talk to ``link`` with any serial client, ``await stop()``."""

    # Defaults that tests override on an instance to speed the simulated world up.
    ring_interval: float = 1.0
    noise_interval: float = 3.0
    reboot_delay: float = 0.5
    # How long the network takes to answer AT+CMGS: seconds, or (low, high) for a time drawn at random
    # between them for each SMS (real networks take 2–4 s).
    send_delay: float | tuple[float, float] = 0.05

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
        cpms_form: str | None = None,
        line_endings: str = "crlf",
    ) -> None:
        if cpms_form is not None and cpms_form not in CPMS_FORMS:
            raise SimulatorError(f"unknown AT+CPMS=? form {cpms_form!r} ({', '.join(CPMS_FORMS)})")
        if line_endings not in LINE_ENDINGS:
            raise SimulatorError(f"unknown line endings {line_endings!r} ({', '.join(LINE_ENDINGS)})")
        self.link = Path(link)
        self.line_endings = line_endings
        self.modem = ModemState(
            profile_for(personality),
            cpms_form=cpms_form,
            pin=pin,
            imei=imei,
            imsi=imsi,
            iccid=iccid,
            operator=operator,
            capacity=capacity,
            smsc=smsc,
            rssi=rssi,
            last_mr=last_mr,
        )
        self._faults = Faults()
        self._rebooting = False
        self._noise = Noise(self.modem, noise)
        self._line = LineDiscipline(echo=lambda: self.modem.settings.echo, deaf=lambda: self._rebooting)
        self._urcs = UrcGate(self._line, self._write)
        self._commands = AtCommands(self.modem, urc_soon=self._urc_soon, reboot=self._start_reboot)
        self._rx: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pty = Pty(self.link, on_data=self._rx.put_nowait, on_hangup=self._reset_input)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running = False
        self._recorded: dict[str, collections.deque[bytes]] = {}
        # The command lines the client sent, last ones, PINs hidden (state()'s "heard"), and a hook
        # called with each.
        self.heard: collections.deque[str] = collections.deque(maxlen=_HEARD_KEPT)
        self.on_command: Callable[[str], None] | None = None

    # What callers read of the modem (its state lives in ``modem``).

    @property
    def profile(self) -> Profile:
        return self.modem.profile

    @property
    def personality(self) -> Personality:
        return self.modem.personality

    @property
    def pin(self) -> str | None:
        return self.modem.pin

    @property
    def imei(self) -> str:
        return self.modem.imei

    @property
    def imsi(self) -> str:
        return self.modem.imsi

    @property
    def iccid(self) -> str:
        return self.modem.iccid

    @property
    def operator(self) -> str:
        return self.modem.operator

    @property
    def rssi(self) -> int:
        return self.modem.rssi

    @property
    def tty(self) -> str | None:
        """The pty slave's device name (``/dev/pts/N``) that ``link`` points to."""
        return self._pty.tty

    @property
    def on_delete(self) -> Callable[[dict[str, Any]], None] | None:
        """Called with each deletion's log entry at the moment AT+CMGD removes it, before the answer
        (the entries of :meth:`state`'s ``deleted``)."""
        return self.modem.on_delete

    @on_delete.setter
    def on_delete(self, hook: Callable[[dict[str, Any]], None] | None) -> None:
        self.modem.on_delete = hook

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the pty and symlink it at ``link``."""
        if self._running:
            raise SimulatorError("simulator already started")
        self._running = True
        try:
            self._pty.open()
            self._spawn(self._serve(), "serve")
            if self._noise.possible:
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
        self._unplug()
        log.info("simulated modem on %s stopped", self.link)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"simulator-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------------ public API

    async def inject_sms(
        self, number: str, text: str, *, scts: datetime | None = None, locking: int = 0, single: int = 0
    ) -> list[int]:
        """The network delivers an SMS: stored (one slot per part) with ``+CMTI``, or ``+CMT`` when
        CNMI mt=2 and a client listens. Returns the storage indexes ([] when handed over directly).
        ``locking``/``single`` name national language tables (TS 23.038) the sender wrote it with."""
        when = scts or datetime.now(UTC).astimezone().replace(microsecond=0)
        ref = self.modem.next_concat_ref()
        parts = encode_deliver(
            number, text, scts=when, smsc=self.modem.smsc, concat_ref=ref, locking=locking, single=single
        )
        if routes_directly("deliver", self.modem.settings.cnmi) and self._urcs_deliverable():
            for pdu in parts:
                self._urc(*direct_delivery("deliver", pdu))
            log.info("sms from %s handed over directly (+CMT, %d part(s))", number, len(parts))
            return []
        self.modem.check_room(len(parts))
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
        self.modem.check_room(1)
        index = self._store(pdu_hex.upper(), kind)
        log.info("raw %s PDU stored at %d", kind, index)
        return index

    def set_cnmi(self, mode: int, mt: int, bm: int = 0, ds: int = 0, bfr: int = 0) -> None:
        """Change the new-message indication settings as another program on the port would with
        ``AT+CNMI=…`` (e.g. ``set_cnmi(2, 2, 0, 1)``: SMS and reports handed over as ``+CMT``/``+CDS``).
        Values the personality refuses raise; ``ATZ`` and reboots restore the defaults."""
        if not self.modem.set_cnmi((mode, mt, bm, ds, bfr)):
            values = f"{mode},{mt},{bm},{ds},{bfr}"
            raise SimulatorError(f"the {self.personality.value} modem refuses CNMI {values}")

    def answer_once(self, command: str, raw: str) -> None:
        """The next time the client sends ``command`` (the whole line, ``AT`` included; case and
        surrounding spaces do not matter), answer with ``raw`` exactly as given instead of the
        firmware's answer: a capture of a real modem, quirks and all. Answers queue up per command;
        the firmware answers once they are used up. The firmware's state is left as it is."""
        key = command.strip().upper()
        if not key.startswith("AT"):
            raise SimulatorError(f"{command!r} is not a command line (it starts with AT)")
        self._recorded.setdefault(key, collections.deque()).append(raw.encode("latin-1"))

    def send_urc(self, *lines: str) -> None:
        """Unsolicited lines as the modem would send them on its own (``+CREG: 2,5,"0502",…``),
        written like the firmware's own URCs: held back while the client types or an answer is due."""
        if not lines:
            raise SimulatorError("no line to send")
        self._urc(*lines)

    def set_reports(self, mode: str, delay: float = 0.0) -> None:
        """What the network answers for SMS sent from now on: "delivered", "failed" or "none"."""
        self.modem.set_reports(mode, delay)

    async def ring(self, number: str, ring_seconds: float | None = None) -> None:
        """An incoming call from ``number``; the caller hangs up after ``ring_seconds`` (None: never)."""
        if self.modem.call is not None:
            raise SimulatorError("a call is already in progress")
        call = Call(number)
        self.modem.call = call
        log.info("incoming call from %s", number)
        self._urc(*ring_lines(call, self.modem.settings))
        self._spawn(self._ring_loop(call, ring_seconds), "ring")

    async def end_call(self, *, silent: bool = False) -> None:
        """The caller hangs up: ``NO CARRIER`` (``^CEND`` on Huawei), or with ``silent`` nothing at all
        (many modems just stop ringing when the caller gives up before an answer)."""
        call = self.modem.end_call()
        if call is None:
            return
        if not silent:
            self._urc(self.profile.call_end_urc)
        log.info("call from %s ended by the caller%s", call.number, " (silently)" if silent else "")

    async def fault(self, kind: str) -> None:
        """Inject a fault: unplug, replug, stall, unstall, garbage, error[:n], sms_error, drop_urcs[:n]
        (see :mod:`.faults`)."""
        name = fault_name(kind)
        if not self._running:
            raise SimulatorError("simulator not started")
        log.info("fault: %s", kind)
        self._faults.apply(kind)
        if name == "unplug":
            self._unplug()
        elif name == "replug":
            self._unplug()
            self._pty.open()
        elif name == "garbage":
            self._write(garbage(), force=True)

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: storage, what was sent, what was deleted, the call, active faults,
        settings.

        ``deleted`` has one entry per message each ``AT+CMGD`` removed (the last 10 000): ``at``
        (``time.monotonic()``), ``storage``, ``index``, ``kind`` and ``pdu``.
        ``settings.pin_attempts`` is what the SIM has left before it asks for the PUK."""
        modem = self.modem
        s = modem.settings
        return {
            "personality": self.personality.value,
            "cpms_form": modem.cpms_form,
            "line_endings": self.line_endings,
            "heard": list(self.heard),
            "link": str(self.link),
            "tty": self.tty,
            "client": self._pty.client,
            "stored": [
                {
                    "index": slot.index,
                    "storage": self.profile.storage,
                    "pdu": slot.pdu,
                    "kind": slot.kind,
                    "read": slot.read,
                }
                for slot in sorted(modem.slots.values(), key=lambda s: s.index)
            ],
            "sent": [dict(item) for item in modem.sent],
            "deleted": [dict(item) for item in modem.deleted],
            "call": None if modem.call is None else {"number": modem.call.number, "state": modem.call.state},
            "faults": self._faults.active(),
            "reports": {"mode": modem.reports_mode, "delay": modem.reports_delay},
            "settings": {
                "echo": s.echo,
                "cmee": s.cmee,
                "cnmi": list(s.cnmi),
                "clip": s.clip,
                "crc": s.crc,
                "creg": s.creg,
                "cfun": s.cfun,
                "sim": modem.sim_state,
                "pin_attempts": modem.pin_attempts,
                "mems": list(s.mems),
                "noise": self._noise.on(),
            },
        }

    # ------------------------------------------------------------------ output

    def _write(self, data: bytes, *, force: bool = False, recorded: bool = False) -> None:
        """Bytes for the client, lines ended as ``line_endings`` says (a ``recorded`` answer goes out
        as it was captured); a stalled firmware writes nothing (unless ``force``: line noise)."""
        if self._faults.stalled and not force:
            log.debug("stalled, dropped %r", data[:60])
            return
        if not recorded and self.line_endings != "crlf":
            data = data.replace(b"\r\n", LINE_ENDINGS[self.line_endings])
        self._pty.write(data)

    def _unplug(self) -> None:
        """Close the pty: what the client typed, and what waited to be said to it, go with it."""
        if not self._pty.is_open:
            return
        self._pty.close()
        while not self._rx.empty():
            self._rx.get_nowait()
        self._reset_input()

    def _reset_input(self) -> None:
        self._line.reset()
        self._urcs.clear()

    def _urcs_deliverable(self) -> bool:
        # slave_open() rather than the pty's client flag: that lags a new client by a probe interval.
        return not self._faults.stalled and not self._rebooting and self._pty.slave_open()

    def _urc(self, *lines: str) -> None:
        """An unsolicited result code: lost when nobody can hear it, else sent (or held back while
        the link is reserved, see :class:`~.urcs.UrcGate`)."""
        if not self._urcs_deliverable():
            log.debug("URC lost (nobody listening): %s", " / ".join(lines))
            return
        log.debug("URC -> %s", " / ".join(lines))
        self._urcs.send(*lines)

    def _urc_soon(self, line: str) -> None:
        """A URC once the answer being written is out."""
        asyncio.get_running_loop().call_soon(self._urc, line)

    def _store(self, pdu: str, kind: str) -> int:
        """File a message in the first free slot and indicate it (``+CMTI``/``+CDSI``) as CNMI says."""
        index = self.modem.file(pdu, kind)
        line = stored_indication(kind, index, self.profile.storage, self.modem.settings.cnmi)
        if line is None:
            return index
        # drop_urcs counts only indications a client would have seen, so "n" means n missed by it.
        if self._urcs_deliverable() and self._faults.take_lost_urc():
            log.info("fault drop_urcs: %s lost (%d more to lose)", line, self._faults.drop_urcs)
        else:
            self._urc(line)
        return index

    # ------------------------------------------------------------------ the command loop

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
        for item in self._line.feed(data):
            if isinstance(item, bytes):
                self._write(item)  # the echo
            elif isinstance(item, CommandLine):
                self._execute(item.text)
                if not self._line.at_prompt:
                    self._urcs.release()
            elif isinstance(item, PduEntered):
                await self._submit(item)
            else:
                log.debug("<- ESC (send cancelled)")
                self._write(b"\r\nOK\r\n")
                self._urcs.release()

    def _execute(self, raw: str) -> None:
        text = raw.strip()
        if not text:
            return
        log.debug("<- %s", text)
        self.heard.append(redact(text))
        if self.on_command is not None:
            self.on_command(redact(text))
        if not text[:2].upper() == "AT":
            log.debug("ignored a line without AT prefix: %r", text)
            return
        if self._faults.stalled:
            # A stalled firmware still obeys a full reset, and nothing else.
            if text.upper().replace(" ", "") == "AT+CFUN=1,1":
                log.info("stalled modem reset by AT+CFUN=1,1")
                self._faults.stalled = False
                self._start_reboot()
            return
        recorded = self._recorded.get(text.upper())
        if recorded:
            answer = recorded.popleft()
            log.info("%s answered as recorded: %r", text, answer[:80])
            self._write(answer, recorded=True)
            return
        if self._faults.take_error():
            self._finish(Reply(final=self._commands.cms(500)))
            return
        reply = self._commands.run(text[2:])
        if reply.prompt is not None:
            self._line.prompt(reply.prompt)
            log.debug("-> > (waiting for %d octets)", reply.prompt)
            self._write(b"\r\n> ")
            return
        self._finish(reply)
        for after in reply.after:
            after()

    def _finish(self, reply: Reply) -> None:
        log.debug("-> %s", " | ".join([*(" / ".join(r) for r in reply.records), reply.final]))
        self._write(reply.encode(self._noise.next_line if self._noise.on() else None))

    # ------------------------------------------------------------------ sending

    async def _submit(self, pdu: PduEntered) -> None:
        log.debug("<- PDU %s (AT+CMGS=%d)", pdu.text, pdu.expected)
        with self._urcs.holding():
            final = await self._accept_submit(pdu.text, pdu.expected)
        self._write(final.encode())
        self._urcs.release()

    async def _accept_submit(self, pdu_hex: str, expected: int) -> str:
        """The SMSC's answer to the PDU typed after ``AT+CMGS=<expected>``: ``+CMGS: <mr>`` or an error."""
        if self._faults.take_sms_error():
            return f"\r\n{self._commands.cms(38)}\r\n"
        try:
            if not pdu_hex or tpdu_length(pdu_hex) != expected:
                raise PduError("length disagrees with AT+CMGS")
            submit = decode(pdu_hex, smsc=True)
            if not isinstance(submit, SubmitPdu):
                raise PduError("not an SMS-SUBMIT")
        except (ValueError, PduError) as exc:
            log.info("refused PDU %r: %s", pdu_hex, exc)
            return f"\r\n{self._commands.cms(304)}\r\n"
        if not self.modem.registered():
            return f"\r\n{self._commands.cms(331)}\r\n"
        await asyncio.sleep(self._send_time())  # the round trip to the SMSC
        mr = self.modem.record_sent(pdu_hex, submit)
        log.info("sms to %s sent (mr=%d)", submit.number, mr)
        mode = self.modem.reports_mode
        if submit.status_report_request and mode != "none":
            report = self._report_later(mr, submit.number, _REPORT_STATUS[mode], self.modem.reports_delay)
            self._spawn(report, "report")
        return f"\r\n+CMGS: {mr}\r\n\r\nOK\r\n"

    def _send_time(self) -> float:
        if isinstance(self.send_delay, tuple):
            return random.uniform(*self.send_delay)
        return self.send_delay

    async def _report_later(self, mr: int, number: str, status: int, delay: float) -> None:
        submitted = datetime.now(UTC).astimezone().replace(microsecond=0)
        await asyncio.sleep(delay)
        discharge = submitted + timedelta(seconds=max(1, round(delay)))
        pdu = encode_status_report(
            mr, number, status=status, scts=submitted, discharge=discharge, smsc=self.modem.smsc
        )
        if routes_directly("status_report", self.modem.settings.cnmi) and self._urcs_deliverable():
            self._urc(*direct_delivery("status_report", pdu))
            log.info("status report for mr=%d routed directly (+CDS)", mr)
            return
        if not self.modem.free_indexes():
            log.warning("storage full: status report for mr=%d dropped", mr)
            return
        index = self._store(pdu, "status_report")
        log.info("status report for mr=%d stored at %d", mr, index)

    # ------------------------------------------------------------------ timers

    def _start_reboot(self) -> None:
        self._spawn(self._reboot(), "reboot")

    async def _reboot(self) -> None:
        """AT+CFUN=1,1: silent for a moment, then back with default settings and boot URCs."""
        self._rebooting = True
        self._commands.hang_up()
        self._reset_input()
        try:
            await asyncio.sleep(self.reboot_delay)
        finally:
            self._rebooting = False
        self._faults.stalled = False
        self.modem.power_on()
        log.info("modem rebooted")
        for line in self.profile.boot_urcs:
            self._urc(self.modem.fmt(line))

    async def _ring_loop(self, call: Call, ring_seconds: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if ring_seconds is None else loop.time() + ring_seconds
        while self.modem.call is call:
            wait = self.ring_interval
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - loop.time()))
            with contextlib.suppress(TimeoutError):
                await within(call.ended.wait(), wait)
            if self.modem.call is not call:
                return
            if deadline is not None and loop.time() >= deadline:
                await self.end_call()
                return
            if call.state == "ringing":
                self._urc(*ring_lines(call, self.modem.settings))

    async def _noise_loop(self) -> None:
        while True:
            await asyncio.sleep(self.noise_interval)
            if self._noise.on():
                self._urc(self._noise.next_line())
