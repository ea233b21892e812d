"""One open serial port speaking AT: bytes ↔ :class:`~.at_protocol.AtParser`, one command at a time.

The layer between the tty and the backend (zigpy-znp's ``uart``/``api``): it reads with
``loop.add_reader`` on the non-blocking fd pyserial opened, feeds the pure parser, resolves the waiter
of the command in flight, hands URCs to a callback and logs garbage (survived, never acted on). It
never reconnects: a read error, EOF or hangup marks it lost (:attr:`AtTransport.lost`) and fails the
command in flight with :class:`~raspisms_daemon.errors.ModemGone`; the backend's supervisor decides
what happens next.

Its limits are real time, not the backend's injected clock: the tty and the modem at its other end
run in real time whatever a test's clock says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import serial

from ..errors import ModemGone, ModemTimeout
from ..noise import MODEM_GARBAGE, LineLimiter
from .at_protocol import AtParser, ParserState, Prompt, Response, Urc, ends_on_info_line, redact, redact_bytes

__all__ = ["INFO_LINE_GRACE", "AtTransport"]

log = logging.getLogger(__name__)

CTRL_Z = b"\x1a"
ESC = b"\x1b"
# Silence after the info line of a command some firmware answers without a result code (Wavecom's
# AT+CPIN?) that ends the answer there; a modem that sends its OK sends it within milliseconds.
INFO_LINE_GRACE = 1.0


class AtTransport:
    """An open AT port. Build with :meth:`open`; :meth:`close` is idempotent."""

    def __init__(
        self,
        ser: serial.Serial,
        *,
        on_urc: Callable[[Urc], None],
        phone_id: int | None = None,
    ) -> None:
        self._ser = ser
        self._fd = ser.fileno()
        self._loop = asyncio.get_running_loop()
        self._parser = AtParser()
        self._on_urc = on_urc
        self._phone_id = phone_id
        self._garbage = LineLimiter()
        self._log = logging.LoggerAdapter(log, {"phone_id": phone_id})  # the journal's PHONE_ID
        self._lock = asyncio.Lock()  # one command in flight
        self._response: asyncio.Future[Response] | None = None
        self._prompt: asyncio.Future[Prompt] | None = None
        self.lost: asyncio.Future[Exception] = self._loop.create_future()
        self._closed = False
        self._loop.add_reader(self._fd, self._on_readable)

    @classmethod
    async def open(
        cls,
        device: str,
        baudrate: int,
        *,
        on_urc: Callable[[Urc], None],
        phone_id: int | None = None,
    ) -> AtTransport:
        try:
            # timeout=0: pyserial leaves the fd non-blocking; we never call its blocking read.
            ser = serial.Serial(port=device, baudrate=baudrate, timeout=0, write_timeout=0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ModemGone(f"cannot open {device}: {exc}") from exc
        try:
            ser.reset_input_buffer()  # stale bytes from before we owned the port mean nothing
        except (serial.SerialException, OSError):
            pass
        return cls(ser, on_urc=on_urc, phone_id=phone_id)

    @property
    def is_lost(self) -> bool:
        return self.lost.done()

    # -- reading ----------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: the pty master or the USB device went away
            self._mark_lost(ModemGone(f"read failed: {exc}"))
            return
        if not data:
            self._mark_lost(ModemGone("end of file on the port"))
            return
        self._log.debug("<- %r", redact_bytes(data))
        self._parser.receive_data(data)
        self._dispatch()

    def _dispatch(self) -> None:
        while True:
            try:
                event = self._parser.next_event()
            except Exception:  # a parser bug must not kill the reader
                self._log.exception("AT parser failed; resetting it")
                self._parser.reset()
                return
            if event is None:
                return
            if isinstance(event, Response):
                if self._response is not None and not self._response.done():
                    self._response.set_result(event)
                else:
                    self._log.warning("response with nobody waiting: %s", redact(repr(event)))
            elif isinstance(event, Prompt):
                if self._prompt is not None and not self._prompt.done():
                    self._prompt.set_result(event)
                    # Stop parsing here: the bytes after the prompt belong to the state after pdu_sent.
                    return
            elif isinstance(event, Urc):
                try:
                    self._on_urc(event)
                except Exception:
                    self._log.exception("URC handler failed on %r", event.line)
            else:
                # Rate-limited: a modem can spew garbage without end.
                MODEM_GARBAGE[self._phone_id] += 1
                verdict = self._garbage.hit(time.monotonic())
                if verdict.suppressed:
                    self._log.warning("garbage from modem: %d more line(s) not logged", verdict.suppressed)
                if verdict.log:
                    self._log.warning("garbage from modem (%s): %r", event.reason, event.data[:200])

    def _mark_lost(self, exc: Exception) -> None:
        if not self.lost.done():
            self._log.info("port lost: %s", exc)
            self.lost.set_result(exc)
        for fut in (self._response, self._prompt):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
        self._detach()

    def _detach(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
            with contextlib.suppress(Exception):
                self._ser.close()

    def close(self) -> None:
        self._mark_lost(ModemGone("port closed"))

    # -- writing ----------------------------------------------------------------------------------
    async def _write(self, data: bytes, limit: float) -> None:
        if self.is_lost:
            raise ModemGone("port is closed")
        self._log.debug("-> %r", redact_bytes(data))
        view = memoryview(data)
        try:
            async with asyncio.timeout(limit):
                while view:
                    try:
                        n = os.write(self._fd, view)
                    except BlockingIOError:
                        # The tty buffer is full (a stalled modem): the kernel drains it in real time.
                        await asyncio.sleep(0.01)
                        continue
                    view = view[n:]
        except TimeoutError as exc:
            raise ModemTimeout("write timed out") from exc
        except OSError as exc:
            err = ModemGone(f"write failed: {exc}")
            self._mark_lost(err)
            raise err from exc

    async def write_raw(self, data: bytes, limit: float = 2.0) -> None:
        """Bytes outside any command (ESC to leave a stale prompt)."""
        async with self._lock:
            await self._write(data, limit)

    @contextlib.asynccontextmanager
    async def _exchange(
        self, command: str, write_limit: float, *, prompt: bool = False
    ) -> AsyncIterator[None]:
        """One command in flight: its waiters exist before it is written, and whatever happens the
        parser and the waiters are reset afterwards (a late answer then comes out as garbage)."""
        async with self._lock:
            self._response = self._loop.create_future()
            self._prompt = self._loop.create_future() if prompt else None
            try:
                self._parser.start_command(command)
                await self._write(command.encode("ascii") + b"\r", write_limit)
                self._dispatch()  # bytes that arrived before the write are parsed with the command known
                yield
            finally:
                _consume(self._response)
                _consume(self._prompt)
                self._response = None
                self._prompt = None
                if self._parser.state is not ParserState.IDLE:
                    self._parser.cancel_command()

    async def _result(self, what: str, limit: float) -> Response:
        assert self._response is not None
        try:
            async with asyncio.timeout(limit):
                return await self._response
        except TimeoutError as exc:
            raise ModemTimeout(f"{what} in {limit:g} s") from exc

    async def command(self, command: str, limit: float) -> Response:
        """Write one command and return its response (whatever its result)."""
        async with self._exchange(command, limit):
            if ends_on_info_line(command):
                return await self._result_or_info_line(command, limit)
            return await self._result(f"{redact(command)}: no answer", limit)

    async def _result_or_info_line(self, command: str, limit: float) -> Response:
        """The response, or the info line alone once the modem stayed silent after it for a whole
        INFO_LINE_GRACE (checked twice a grace apart, so at least one grace passed since it came)."""
        assert self._response is not None
        deadline = self._loop.time() + limit
        info_line = False
        while (remaining := deadline - self._loop.time()) > 0:
            done, _ = await asyncio.wait({self._response}, timeout=min(INFO_LINE_GRACE, remaining))
            if done:
                return self._response.result()
            if info_line and (response := self._parser.end_on_info_line()) is not None:
                self._log.info("%s: the answer ended on its info line, without a result code", command)
                return response
            info_line = self._parser.has_info_line
        raise ModemTimeout(f"{redact(command)}: no answer in {limit:g} s")

    async def submit(self, length: int, pdu_hex: str, prompt_limit: float, limit: float) -> Response:
        """``AT+CMGS=<length>``, wait for ``> ``, write the PDU and Ctrl-Z, return the response."""
        command = f"AT+CMGS={length}"
        async with self._exchange(command, prompt_limit, prompt=True):
            assert self._response is not None and self._prompt is not None
            try:
                async with asyncio.timeout(prompt_limit):
                    either: set[asyncio.Future[Any]] = {self._prompt, self._response}
                    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError as exc:
                # Leave the prompt if it came late: ESC cancels without sending (Ctrl-Z would send).
                with contextlib.suppress(ModemGone, ModemTimeout):
                    await self._write(ESC, 1.0)
                raise ModemTimeout(f"{command}: no prompt in {prompt_limit:g} s") from exc
            if self._response.done():
                return self._response.result()  # refused before the prompt (ERROR, +CMS ERROR)
            self._prompt.result()  # raises ModemGone if the port was lost
            await self._write(pdu_hex.encode("ascii") + CTRL_Z, limit)
            if self._parser.state is ParserState.PROMPT:
                self._parser.pdu_sent(pdu_hex)
            self._dispatch()
            return await self._result(f"{command}: no result", limit)


def _consume(fut: asyncio.Future[Any] | None) -> None:
    """Mark a failed future's exception as seen, so asyncio does not log it as never retrieved."""
    if fut is not None and fut.done() and not fut.cancelled():
        fut.exception()
