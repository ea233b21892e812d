"""The connection guard: the API's connections bounded in number and in idle time, so that a client
that opens connections and sends nothing, or half a request (slowloris), can neither run the daemon
out of file descriptors (its webhook deliveries need them) nor lock ``/healthz`` out.

aiohttp 3.x has neither a connection cap nor a request-head timeout (its keep-alive timer, where it has
one, starts after the first answer or runs for an hour). So each accepted connection goes through
:class:`_GuardedProtocol` before aiohttp's own protocol sees it, :class:`.connections.ConnectionTable`
decides, and this module closes:

- at the cap, the connection idle the longest (or reading a body the longest) to let a new one in, or
  the new one with a 503 when every connection is being answered;
- a connection idle (no complete request head yet, or kept alive) for ``head_timeout``: checked every
  ``sweep_every`` seconds against the clock;
- a body slower than ``body_timeout``: the handler's read times out (408, :mod:`.params`).

Each close is counted (``/metrics``: ``raspisms_api_connections_closed_total{reason}``) and logged, a
few lines and then one a minute at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from ..clock import Clock
from ..noise import LineLimiter
from .connections import ConnectionTable, State
from .envelope import Code, envelope
from .limits import ConnectionLimits
from .metrics import Sample

__all__ = ["GUARD", "ConnectionGuard", "GuardedSite", "guarded"]

log = logging.getLogger("raspisms_daemon.api")

Transport = asyncio.Transport
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLOSE_REASONS = ("evicted_idle", "evicted_reading", "head_timeout", "refused")


class ConnectionGuard:
    def __init__(self, limits: ConnectionLimits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self.table: ConnectionTable[Transport] = ConnectionTable(limits.max_connections, limits.head_timeout)
        self.closed: Counter[str] = Counter()
        self._noise = LineLimiter(burst=3, interval=60.0)
        body = json.dumps(
            envelope(
                error=Code.INTERNAL_ERROR,
                message=f"the API has {limits.max_connections} connections open, all being answered: "
                "try again in a moment",
            )
        ).encode()
        self._refusal = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    # --- the transport side ----------------------------------------------------------------------------

    def protocol_factory(self, server: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """What to give ``loop.create_server`` in place of aiohttp's ``runner.server``."""
        return lambda: _GuardedProtocol(self, server)

    def admit(self, transport: Transport) -> bool:
        """A connection was accepted: let it in (maybe closing another) or refuse it (answered 503)."""
        admission = self.table.admit(transport, self.clock.monotonic())
        if not admission.admitted:
            self._closed("refused", "answered 503 to a new connection: every connection is being answered")
            transport.write(self._refusal)
            transport.close()
            return False
        if admission.evicted is not None:
            reason = "evicted_idle" if admission.evicted_state is State.IDLE else "evicted_reading"
            waiting = "idle" if admission.evicted_state is State.IDLE else "sending its body"
            self._closed(reason, f"closed the connection {waiting} the longest to let a new one in")
            admission.evicted.abort()
        return True

    def forget(self, transport: Transport) -> None:
        self.table.forget(transport)

    async def sweep(self) -> None:
        """Close idle connections past the head timeout, every ``sweep_every`` seconds (real time)."""
        while True:
            await asyncio.sleep(self.limits.sweep_every)
            for transport in self.table.expired(self.clock.monotonic()):
                self._closed(
                    "head_timeout", f"closed a connection with no request for {self.limits.head_timeout:g} s"
                )
                transport.abort()

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """The sweep runs as long as the application (``app.cleanup_ctx``)."""
        task = asyncio.create_task(self.sweep(), name="api-connection-sweep")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # --- the request side ------------------------------------------------------------------------------

    def handling(self, request: web.Request) -> contextlib.AbstractContextManager[None]:
        """While a handler runs; idle (kept alive) once it has answered."""
        return self._state(request, State.HANDLING, then=State.IDLE)

    def reading(self, request: web.Request) -> contextlib.AbstractContextManager[None]:
        """While a handler reads the body: inside :meth:`handling`, so back to handling after."""
        return self._state(request, State.READING, then=State.HANDLING)

    @contextlib.contextmanager
    def _state(self, request: web.Request, state: State, *, then: State) -> Iterator[None]:
        transport = request.transport
        if transport is not None:
            self.table.set_state(transport, state, self.clock.monotonic())
        try:
            yield
        finally:
            if transport is not None:
                self.table.set_state(transport, then, self.clock.monotonic())

    def samples(self) -> list[Sample]:
        counts = self.table.counts()
        out = [
            Sample(
                "api_connections",
                counts[state],
                (("state", state.value),),
                help="open API connections: idle (no request yet, or kept alive), reading a body, handled",
            )
            for state in State
        ]
        out.append(
            Sample("api_connections_max", self.limits.max_connections, help="the API's connection cap")
        )
        out += [
            Sample(
                "api_connections_closed_total",
                self.closed[reason],
                (("reason", reason),),
                help="API connections the daemon closed: to make room, idle too long, or refused at the cap",
            )
            for reason in CLOSE_REASONS
        ]
        return out

    def _closed(self, reason: str, what: str) -> None:
        self.closed[reason] += 1
        verdict = self._noise.hit(self.clock.monotonic())
        if verdict.log:
            more = f" ({verdict.suppressed} more such closes not logged)" if verdict.suppressed else ""
            log.warning("API: %s (cap %d)%s", what, self.limits.max_connections, more)


GUARD = web.AppKey("guard", ConnectionGuard)


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol behind the guard: made only once the guard lets the connection in."""

    def __init__(self, guard: ConnectionGuard, make_inner: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make_inner = make_inner
        self._inner: asyncio.Protocol | None = None
        self._transport: Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a stream server's
        self._transport = transport
        if self._guard.admit(transport):
            self._inner = self._make_inner()
            self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard.forget(self._transport)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


@web.middleware
async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While a handler runs, its connection is "handling": never closed to make room."""
    with request.app[GUARD].handling(request):
        return await handler(request)


class GuardedSite(web.BaseSite):
    """A TCP (``host``, ``port``) or unix (``path``) listener whose connections go through the guard;
    the listen backlog is the guard's, which bounds how many connections asyncio accepts in one go."""

    def __init__(
        self,
        runner: web.AppRunner,
        guard: ConnectionGuard,
        *,
        host: str | None = None,
        port: int = 0,
        path: str | None = None,
    ) -> None:
        super().__init__(runner, backlog=guard.limits.backlog)
        self._guard = guard
        self._host, self._port, self._path = host, port, path

    @property
    def name(self) -> str:
        return f"http://unix:{self._path}:" if self._path is not None else f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        factory = self._guard.protocol_factory(server)
        loop = asyncio.get_running_loop()
        created: Any
        if self._path is not None:
            created = await loop.create_unix_server(factory, self._path, backlog=self._guard.limits.backlog)
        else:
            created = await loop.create_server(
                factory, self._host, self._port, backlog=self._guard.limits.backlog, reuse_address=True
            )
        self._server = created
