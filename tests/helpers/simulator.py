"""Test helpers around the modem simulator: a started simulator, and a pyserial client of it.

    async with simulated_modem(tmp_path, personality="huawei") as sim:
        async with SerialPeer(sim.link) as peer:
            lines = await peer.command("AT+CGSN")

The simulator's clocks (ring interval, reboot delay, noise interval) are shortened so tests stay fast;
pass them explicitly to override.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import serial

from raspisms_daemon.simulator import ControlServer, Personality, Simulator

__all__ = ["FINAL_RE", "SerialPeer", "run_command", "simulated_modem"]

FINAL_RE = re.compile(r"^(OK|ERROR|NO CARRIER|BUSY|NO ANSWER|COMMAND NOT SUPPORT|\+CM[ES] ERROR:.*)$")

_FAST = {"ring_interval": 0.1, "reboot_delay": 0.1, "noise_interval": 0.2, "send_delay": 0.0}


@contextlib.asynccontextmanager
async def simulated_modem(
    tmp_path: Path,
    personality: Personality | str = "generic",
    *,
    name: str = "modem",
    fast: dict[str, float] | None = None,
    **kwargs: Any,
) -> AsyncIterator[Simulator]:
    """A started :class:`Simulator` at ``tmp_path/name`` with its control socket (``control_path(link)``),
    both stopped on exit."""
    sim = Simulator(tmp_path / name, personality, **kwargs)
    for attr, value in {**_FAST, **(fast or {})}.items():
        setattr(sim, attr, value)
    async with sim, ControlServer(sim):
        yield sim


async def run_command(*argv: str, timeout: float, merge_stderr: bool = False) -> tuple[int, str, str] | None:  # noqa: ASYNC109
    """Run ``argv`` to completion: (exit status, stdout, stderr), or None when it outlived ``timeout``
    (it is then killed and reaped). ``merge_stderr`` sends stderr into stdout, in order."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace")


class SerialPeer:
    """A pyserial client, read through the event loop (``add_reader`` on pyserial's fd)."""

    def __init__(self, link: Path | str, *, baudrate: int = 115200) -> None:
        self.link = Path(link)
        self.baudrate = baudrate
        self.port: serial.Serial | None = None
        self.buffer = bytearray()
        self.lost: str | None = None  # why the port went away, when it did
        self._data = asyncio.Event()

    async def __aenter__(self) -> SerialPeer:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def open(self) -> None:
        self.port = serial.Serial(str(self.link), self.baudrate, timeout=0)
        self.lost = None
        asyncio.get_running_loop().add_reader(self.port.fileno(), self._on_readable)

    def close(self) -> None:
        if self.port is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.port.fileno())
            with contextlib.suppress(Exception):
                self.port.close()
            self.port = None

    def _on_readable(self) -> None:
        assert self.port is not None
        try:
            data = self.port.read(max(1, self.port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            self.lost = str(exc) or type(exc).__name__
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.port.fileno())
            self._data.set()
            return
        self.buffer += data
        self._data.set()

    def write(self, data: bytes | str) -> None:
        assert self.port is not None, "port not open"
        self.port.write(data.encode() if isinstance(data, str) else data)

    async def _wait_data(self, timeout: float) -> None:  # noqa: ASYNC109
        self._data.clear()
        await asyncio.wait_for(self._data.wait(), timeout)

    async def read_until(self, token: bytes | str, timeout: float = 5.0) -> bytes:  # noqa: ASYNC109
        """Everything up to and including ``token`` (consumed from the buffer)."""
        needle = token.encode() if isinstance(token, str) else token
        async with asyncio.timeout(timeout):
            while needle not in self.buffer:
                if self.lost:
                    raise ConnectionError(self.lost)
                await self._wait_data(timeout)
        end = self.buffer.index(needle) + len(needle)
        out = bytes(self.buffer[:end])
        del self.buffer[:end]
        return out

    def _pop_line(self) -> str | None:
        """One line (without CR/LF); ``"> "`` counts as a line; empty lines are skipped."""
        while True:
            stripped = self.buffer.lstrip(b"\r\n")
            del self.buffer[: len(self.buffer) - len(stripped)]
            if self.buffer.startswith(b"> "):
                del self.buffer[:2]
                return "> "
            match = re.search(rb"\r\n|\r|\n", self.buffer)
            if match is None:
                return None
            line = bytes(self.buffer[: match.start()])
            del self.buffer[: match.end()]
            if line:
                return line.decode("latin-1")

    async def next_line(self, timeout: float = 5.0) -> str:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                line = self._pop_line()
                if line is not None:
                    return line
                if self.lost:
                    raise ConnectionError(self.lost)
                await self._wait_data(timeout)

    async def expect(self, pattern: str, timeout: float = 5.0) -> tuple[str, list[str]]:  # noqa: ASYNC109
        """Read lines until one matches ``pattern`` (regex); return it and the lines skipped on the way."""
        skipped: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                line = await self.next_line(timeout)
                if re.search(pattern, line):
                    return line, skipped
                skipped.append(line)

    async def response(self, timeout: float = 5.0) -> list[str]:  # noqa: ASYNC109
        """Lines up to and including the final result code (or the ``> `` prompt)."""
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                line = await self.next_line(timeout)
                lines.append(line)
                if line == "> " or FINAL_RE.match(line):
                    return lines

    async def command(self, command: str, timeout: float = 5.0) -> list[str]:  # noqa: ASYNC109
        """Send ``command`` + CR and return the response lines (echo included when echo is on)."""
        self.write(command + "\r")
        return await self.response(timeout)

    async def send_pdu(self, length: int, pdu_hex: str, timeout: float = 5.0) -> list[str]:  # noqa: ASYNC109
        """The whole AT+CMGS dialogue; returns the lines after the PDU (``+CMGS: <mr>``, ``OK``)."""
        prompt = await self.command(f"AT+CMGS={length}", timeout)
        if prompt[-1] != "> ":
            return prompt
        self.write(pdu_hex.encode() + b"\x1a")
        return await self.response(timeout)
