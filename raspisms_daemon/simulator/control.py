"""The simulator's control channel: a unix socket, one JSON request per line, one JSON reply per line.

Whoever runs a :class:`~.engine.Simulator` decides whether it can be driven from outside, and starts a
:class:`ControlServer` for it (by convention at ``<link>.ctl``, :func:`control_path`);
:func:`control_request` is the client side.

Requests (``op`` and its fields) and replies::

    {"op": "sms", "from": "+33611111111", "text": "hi", "scts": "2024-01-02T03:04:05+01:00"?,
     "locking": 1?, "single": 1?}  (national language tables, TS 23.038)
                                                -> {"ok": true, "indexes": [1]}
    {"op": "pdu", "pdu": "0791…", "kind": "deliver|status_report"?} -> {"ok": true, "index": 1}
    {"op": "call", "from": "+336…", "ring_seconds": 5?}          -> {"ok": true}
    {"op": "end_call", "silent": false?}                          -> {"ok": true}
    {"op": "reports", "mode": "delivered|failed|none", "delay": 0?} -> {"ok": true}
    {"op": "fault", "kind": "unplug|replug|stall|unstall|garbage|error[:n]|sms_error|drop_urcs[:n]"}
                                                                  -> {"ok": true}
    {"op": "answer", "command": "AT+CMGL=4", "raw": "+CMGL: 1,0,,23\r\n0791…\r\nOK\r\n"}
                                                                  -> {"ok": true}
    {"op": "urc", "lines": ["+CREG: 2,5,\"0502\",\"0404736D\""]}        -> {"ok": true}
    {"op": "state"}                                               -> {"ok": true, "state": {...}}

Any failure -> ``{"ok": false, "error": "<what went wrong>"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from ..clock import within
from ..errors import PduError, RaspismsError
from .engine import Simulator

__all__ = ["ControlError", "ControlServer", "control_path", "control_request", "handle_request"]

log = logging.getLogger("raspisms_daemon.simulator")

_MAX_REQUEST = 1 << 20
_IDLE_TIMEOUT = 300.0


class ControlError(RaspismsError):
    """The control socket is missing, refused the connection, or answered nonsense."""


def control_path(link: Path | str) -> Path:
    """Where the control socket of the simulator at ``link`` listens: ``<link>.ctl``."""
    return Path(f"{link}.ctl")


class ControlServer:
    """The listening socket of one simulator and its connection handlers, closed (and awaited)
    together. ``async with ControlServer(sim) as server:`` or :meth:`start` / :meth:`close`."""

    def __init__(self, sim: Simulator, path: Path | None = None) -> None:
        self._sim = sim
        self.path = control_path(sim.link) if path is None else path
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        # A stale socket file left by a killed simulator is replaced.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._on_client, path=str(self.path), limit=_MAX_REQUEST
        )
        self.path.chmod(0o600)  # whoever can write here can make the "modem" receive anything
        log.info("control socket for %s at %s", self._sim.link, self.path)

    async def close(self) -> None:
        """Stop listening, end the open connections and remove the socket file; safe to call twice."""
        if self._server is not None:
            self._server.close()
            self._server = None
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while True:
                line = await within(reader.readline(), _IDLE_TIMEOUT)
                if not line:
                    return
                reply = await handle_request(self._sim, line)
                writer.write(json.dumps(reply).encode() + b"\n")
                await within(writer.drain(), 10.0)
        except (TimeoutError, ValueError, ConnectionError):
            pass  # idle, over-long line or peer gone: drop the connection
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)


async def handle_request(sim: Simulator, line: bytes) -> dict[str, Any]:
    """Carry out one request line on ``sim``; the reply to send back."""
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        op = request.get("op")
        log.debug("control request %s", request)
        if op == "sms":
            scts = request.get("scts")
            when = datetime.fromisoformat(scts) if scts else None
            if when is not None and when.tzinfo is None:
                raise ValueError("scts needs a time zone")
            tables = {key: int(request.get(key, 0)) for key in ("locking", "single")}
            sender, text = _text(request, "from"), _text(request, "text")
            indexes = await sim.inject_sms(sender, text, scts=when, **tables)
            return {"ok": True, "indexes": indexes}
        if op == "pdu":
            index = await sim.inject_raw_pdu(_text(request, "pdu"), kind=request.get("kind", "deliver"))
            return {"ok": True, "index": index}
        if op == "call":
            ring_seconds = request.get("ring_seconds")
            await sim.ring(_text(request, "from"), None if ring_seconds is None else float(ring_seconds))
            return {"ok": True}
        if op in ("end_call", "hangup"):
            await sim.end_call(silent=request.get("silent") is True)
            return {"ok": True}
        if op == "reports":
            sim.set_reports(_text(request, "mode"), float(request.get("delay", 0.0)))
            return {"ok": True}
        if op == "fault":
            await sim.fault(_text(request, "kind"))
            return {"ok": True}
        if op == "answer":
            sim.answer_once(_text(request, "command"), _text(request, "raw"))
            return {"ok": True}
        if op == "urc":
            lines = request.get("lines")
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise ValueError("lines must be a list of strings")
            sim.send_urc(*lines)
            return {"ok": True}
        if op == "state":
            return {"ok": True, "state": sim.state()}
        raise ValueError(f"unknown op {op!r} (sms, pdu, call, end_call, reports, fault, answer, urc, state)")
    except (ValueError, TypeError, RaspismsError) as exc:
        kind = "bad text or number" if isinstance(exc, PduError) else None
        message = f"{kind}: {exc}" if kind else str(exc)
        return {"ok": False, "error": message}


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is required (a string)")
    return value


async def control_request(
    path: Path | str,
    request: dict[str, Any],
    *,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """Send one request to a running simulator's control socket and return its reply."""
    path = Path(path)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(path), limit=_MAX_REQUEST)
            try:
                writer.write(json.dumps(request).encode() + b"\n")
                await writer.drain()
                line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControlError(f"no simulator is running there (no control socket at {path})") from exc
    except TimeoutError as exc:
        raise ControlError(f"the simulator at {path} did not answer within {timeout:g} s") from exc
    except OSError as exc:
        raise ControlError(f"cannot talk to the simulator at {path}: {exc}") from exc
    try:
        reply = json.loads(line)
    except ValueError as exc:
        raise ControlError(f"the simulator at {path} answered nonsense: {line[:80]!r}") from exc
    if not isinstance(reply, dict):
        raise ControlError(f"the simulator at {path} answered nonsense: {line[:80]!r}")
    return reply
