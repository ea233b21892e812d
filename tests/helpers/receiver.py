"""A real webhook receiver on 127.0.0.1 for tests: verifies, records, and misbehaves on command.

Every request is verified twice: with our :mod:`raspisms_daemon.webhooks.signing` code (through
:class:`VerifyingReceiver`) and with the reference ``standardwebhooks`` library; RaspiSMS's own check
(``hmac_sha256_hex(api_key, webhook_random_id) == webhook_signature`` then ``json.loads(body)``) is
done here literally as its documentation writes it.

Behaviours (queued with :meth:`FaultyReceiver.plan`, else :attr:`FaultyReceiver.default`):
``Reply(status, headers)``, ``Stall(seconds)``, ``Reset()``, ``Flood(status, size)`` (a giant or endless
body); ``go_down()`` / ``come_back()`` stop listening and listen again on the same port. ``ssl_context``
serves https.

Usage::

    rx = FaultyReceiver(API_KEY)
    await rx.start()
    rx.plan(Reply(500), Reply(503, {"Retry-After": "1"}))
    ...
    await rx.wait_for_deliveries(3)
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import socket
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from raspisms_daemon.webhooks import signing
from raspisms_daemon.webhooks.receiver import ReceivedDelivery, VerifyingReceiver

__all__ = [
    "Behaviour",
    "FaultyReceiver",
    "Flood",
    "Reply",
    "Request",
    "Reset",
    "Stall",
    "raspisms_documented_check",
]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # think time before answering (a receiver that is slow, not stalled)
    body: str | None = None  # None: the status as text


@dataclass(frozen=True)
class Stall:
    seconds: float


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class Flood:
    """Answer ``status`` at once, then a chunked body of ``size`` bytes (None: it never ends), ``chunk``
    bytes at a time, ``pace`` seconds apart (0: as fast as the client reads)."""

    status: int = 200
    size: int | None = None
    chunk: int = 64 * 1024
    pace: float = 0.0


@dataclass(frozen=True)
class Flooded:
    """How one flooded answer ended: the body bytes written, and whether the client hung up first."""

    written: int
    hung_up: bool


Behaviour = Reply | Stall | Reset | Flood


@dataclass(frozen=True)
class Request:
    """Every request that reached the receiver, whatever it was answered."""

    raw_body: bytes
    headers: dict[str, str]
    path: str
    at: float
    behaviour: Behaviour
    ours: ReceivedDelivery | None  # parsed & verified by our code (None: rejected)
    ours_reason: str | None
    library_ok: bool  # standardwebhooks.Webhook(whsec).verify accepted it
    library_reason: str | None
    documented_ok: bool  # RaspiSMS's documented check passed
    peer: tuple[str, int] | None = None  # the client's address and port: one per connection

    @property
    def random_id(self) -> str | None:
        return self.ours.random_id if self.ours else None


def _peer(request: web.Request) -> tuple[str, int] | None:
    peername = request.transport.get_extra_info("peername") if request.transport is not None else None
    return (str(peername[0]), int(peername[1])) if peername else None


def raspisms_documented_check(api_key: str, fields: dict[str, str]) -> bool:
    """Exactly what RaspiSMS's docs tell a receiver to do (PHP hash_hmac, then json_decode of body)."""
    expected = hmac.new(api_key.encode(), fields["webhook_random_id"].encode(), hashlib.sha256).hexdigest()
    if expected != fields["webhook_signature"]:
        return False
    body = fields["body"]
    parsed = json.loads(body) if isinstance(body, str) else body
    return isinstance(parsed, dict)


class FaultyReceiver(VerifyingReceiver):
    """:class:`VerifyingReceiver` plus the fault matrix and full request records."""

    def __init__(
        self,
        api_key: str,
        *,
        default: Behaviour | None = None,
        tolerance: float | None = 300.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(api_key, tolerance=tolerance, ssl_context=ssl_context)
        self.default: Behaviour = default or Reply(200)
        self.requests: list[Request] = []
        self.flooded: list[Flooded] = []
        self._plan: deque[Behaviour] = deque()
        self._changed = asyncio.Event()
        self._library = Webhook(signing.whsec(api_key))
        self._stopping = asyncio.Event()

    def plan(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with these, in order, then fall back to :attr:`default`."""
        self._plan.extend(behaviours)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._stopping = asyncio.Event()
        await super().start(host, port)

    async def stop(self) -> None:
        self._stopping.set()  # stalled handlers give up, so stopping is quick
        await super().stop()

    async def go_down(self) -> None:
        """Stop listening (connections are refused) but keep the port number for :meth:`come_back`."""
        await self.stop()

    async def come_back(self) -> None:
        await self.start(self.host, self.port)

    @property
    def acknowledged(self) -> list[Request]:
        """Requests verified by our code and answered 2xx."""
        return [
            r
            for r in self.requests
            if r.ours is not None
            and isinstance(r.behaviour, Reply | Flood)
            and 200 <= r.behaviour.status < 300
        ]

    def acknowledged_ids(self) -> set[str]:
        return {r.random_id for r in self.acknowledged if r.random_id}

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"receiver: condition not met in {within} s ({len(self.requests)} requests)"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.1))
            except TimeoutError:
                pass

    async def wait_for_requests(self, n: int, within: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.requests) >= n, within)

    async def wait_for_acknowledged(self, n: int, within: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.acknowledged) >= n, within)

    def _library_check(self, raw: bytes, headers: dict[str, str]) -> tuple[bool, str | None]:
        try:
            self._library.verify(raw, headers, json_parse=False)
        except WebhookVerificationError as exc:
            return False, str(exc)
        return True, None

    def _documented_check(self, raw: bytes, headers: dict[str, str]) -> bool:
        try:
            ctype = headers.get("Content-Type", "")
            if ctype.startswith("application/json"):
                fields: dict[str, Any] = json.loads(raw)
            else:
                fields = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            return raspisms_documented_check(self.api_key, fields)
        except (ValueError, KeyError):
            return False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        headers = dict(request.headers)
        ours, reason = self.verify(request.headers, raw)
        if ours is not None:
            ours = dataclasses.replace(ours, path=request.path)
        lib_ok, lib_reason = self._library_check(raw, headers)
        behaviour = self._plan.popleft() if self._plan else self.default
        if ours is None and isinstance(behaviour, Reply | Flood) and 200 <= behaviour.status < 300:
            behaviour = Reply(401)  # a receiver does not acknowledge what it cannot verify
        self.requests.append(
            Request(
                raw,
                headers,
                request.path,
                time.time(),
                behaviour,
                ours,
                reason,
                lib_ok,
                lib_reason,
                self._documented_check(raw, headers),
                _peer(request),
            )
        )
        if ours is not None and isinstance(behaviour, Reply | Flood) and 200 <= behaviour.status < 300:
            self.deliveries.append(ours)
        self._changed.set()
        if isinstance(behaviour, Stall):
            try:
                await asyncio.wait_for(self._stopping.wait(), behaviour.seconds)
            except TimeoutError:
                pass
            return web.Response(status=200, text="too late")
        if isinstance(behaviour, Reset):
            transport = request.transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: close() sends RST instead of FIN, a real "connection reset by peer".
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
            raise asyncio.CancelledError  # nothing more to write on a dead connection
        if isinstance(behaviour, Flood):
            return await self._flood(request, behaviour)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        text = str(behaviour.status) if behaviour.body is None else behaviour.body
        return web.Response(status=behaviour.status, headers=behaviour.headers, text=text)

    async def _flood(self, request: web.Request, flood: Flood) -> web.StreamResponse:
        resp = web.StreamResponse(status=flood.status)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b"x" * flood.chunk
        written = 0
        try:
            while (flood.size is None or written < flood.size) and not self._stopping.is_set():
                await resp.write(chunk)  # waits while the client does not read: no buffering here
                written += len(chunk)
                if flood.pace:
                    await asyncio.sleep(flood.pace)
            await resp.write_eof()
        except ConnectionError:
            self.flooded.append(Flooded(written, hung_up=True))
            raise asyncio.CancelledError from None  # nothing more to write on a closed connection
        self.flooded.append(Flooded(written, hung_up=False))
        return resp
