"""The connection guard on a real server, with raw sockets on 127.0.0.1: connections that send nothing
or half a request head are closed after the head timeout; at the cap the oldest idle one makes room so
that ``/healthz`` answers; a new connection is refused with a JSON 503 only when every connection is
being answered; a slow body gets a 408; a malformed request costs one log line, no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from raspisms_daemon.api.connections import State
from raspisms_daemon.api.guard import ConnectionGuard
from raspisms_daemon.api.limits import ConnectionLimits
from tests.helpers.daemon_process import poll_until

from .conftest import API_KEY, Api, api_server

HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"  # the blank line that ends a head never comes


def limits(**changes: float) -> ConnectionLimits:
    base = {"max_connections": 4.0, "head_timeout": 15.0, "body_timeout": 30.0, "sweep_every": 0.02}
    base.update(changes)
    return ConnectionLimits(
        max_connections=int(base["max_connections"]),
        head_timeout=base["head_timeout"],
        body_timeout=base["body_timeout"],
        sweep_every=base["sweep_every"],
    )


@contextlib.asynccontextmanager
async def served(tmp_path: Path, **changes: float) -> AsyncIterator[tuple[Api, ConnectionGuard]]:
    async with api_server(tmp_path, limits=limits(**changes)) as api:
        assert api.guard is not None
        yield api, api.guard


class Raw:
    """A client connection that sends what it is told and nothing more."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, api: Api, send: bytes = b"") -> Raw:
        reader, writer = await asyncio.open_connection(*api.address)
        if send:
            writer.write(send)
            await writer.drain()
        return cls(reader, writer)

    async def closed_by_server(self, within: float = 5.0) -> bytes:
        """All the server sent until it closed the connection (fails if it does not within ``within``)."""
        return await asyncio.wait_for(self.reader.read(), within)

    async def response(self, within: float = 10.0) -> tuple[bytes, bytes]:
        """The next answer: (head, body), the body by its Content-Length."""
        async with asyncio.timeout(within):
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return head, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def open_count(guard: ConnectionGuard, state: State | None = None) -> int:
    return len(guard.table) if state is None else guard.table.counts()[state]


async def healthz_on_a_new_connection(api: Api) -> int:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with asyncio.timeout(10), session.get(api.base + "/healthz") as resp:
            await resp.read()
            return resp.status


async def test_a_connection_that_sends_nothing_or_half_a_head_is_closed_after_the_head_timeout(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, max_connections=8) as (api, guard):
        silent = await Raw.open(api)
        half = await Raw.open(api, HALF_HEAD)
        await poll_until(lambda: open_count(guard, State.IDLE) == 2)
        api.clock.advance(16.0)
        assert await silent.closed_by_server() == b""
        assert await half.closed_by_server() == b""
        assert guard.closed["head_timeout"] == 2 and open_count(guard) == 0


async def test_a_kept_alive_connection_is_closed_after_the_head_timeout_too(tmp_path: Path) -> None:
    async with served(tmp_path, max_connections=8) as (api, guard):
        conn = await Raw.open(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = await conn.response()
        assert head.startswith(b"HTTP/1.1 200")
        await poll_until(lambda: open_count(guard, State.IDLE) == 1)  # kept alive, waiting for a request
        api.clock.advance(16.0)
        assert await conn.closed_by_server() == b""


async def test_at_the_cap_the_oldest_idle_connection_makes_room_and_healthz_answers(tmp_path: Path) -> None:
    async with served(tmp_path, max_connections=4) as (api, guard):
        flood: list[Raw] = []

        async def one_more() -> None:
            flood.append(await Raw.open(api, HALF_HEAD))
            expected = min(len(flood), 4)
            await poll_until(lambda: open_count(guard) == expected)

        for _ in range(4):
            await one_more()
        assert await healthz_on_a_new_connection(api) == 200
        assert await flood[0].closed_by_server() == b""  # the oldest
        assert guard.closed["evicted_idle"] == 1
        await poll_until(lambda: open_count(guard) == 3)  # healthz's own connection closed after it
        await one_more()  # room for it: nobody closed
        assert guard.closed["evicted_idle"] == 1
        # Each newcomer at the cap closes the next oldest, and only it.
        assert await healthz_on_a_new_connection(api) == 200
        assert await flood[1].closed_by_server() == b""
        assert guard.closed["evicted_idle"] == 2
        for conn in flood:
            conn.close()


async def test_with_every_connection_being_answered_a_new_one_gets_a_json_503(tmp_path: Path) -> None:
    async with served(tmp_path, max_connections=2) as (api, guard):
        gate = asyncio.Event()
        api.daemon.attach_gate = gate
        attach = b"POST /api/daemon/attach HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\nContent-Length: 0\r\n\r\n"
        busy = [await Raw.open(api, attach % API_KEY.encode()) for _ in range(2)]
        await poll_until(lambda: open_count(guard, State.HANDLING) == 2)
        refused = await (await Raw.open(api)).closed_by_server()
        head, _, body = refused.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head
        assert b'"error": 256' in body and b"all being answered" in body
        assert guard.closed["refused"] == 1
        gate.set()
        for conn in busy:
            head, _ = await conn.response()
            assert head.startswith(b"HTTP/1.1 200")
            conn.close()


async def test_a_body_slower_than_the_body_timeout_gets_a_408(tmp_path: Path) -> None:
    async with served(tmp_path, body_timeout=0.3) as (api, guard):
        conn = await Raw.open(
            api,
            b"POST /api/scheduled/ HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100\r\n\r\ntext=hel" % API_KEY.encode(),
        )
        head, body = await conn.response()
        assert head.startswith(b"HTTP/1.1 408") and b"Connection: close" in head
        assert b"the body did not arrive within 0.3 s" in body
        conn.writer.write(b"x" * 92)  # the rest, which aiohttp reads and drops (else it waits 10 s for it)
        assert await conn.closed_by_server() == b""
        assert open_count(guard, State.READING) == 0


async def test_a_connection_reading_a_body_makes_room_only_when_none_is_idle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with served(tmp_path, max_connections=2) as (api, guard):
        gate = asyncio.Event()
        api.daemon.attach_gate = gate
        busy = await Raw.open(
            api, b"POST /api/daemon/attach HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n\r\n" % API_KEY.encode()
        )
        await poll_until(lambda: open_count(guard, State.HANDLING) == 1)
        slow = await Raw.open(
            api,
            b"POST /api/smsstop/ HTTP/1.1\r\nHost: x\r\nX-Api-Key: %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{" % API_KEY.encode(),
        )
        await poll_until(lambda: open_count(guard, State.READING) == 1)
        newcomer = await Raw.open(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await newcomer.closed_by_server()).startswith(b"HTTP/1.1 200")
        assert await slow.closed_by_server() == b""
        assert guard.closed["evicted_reading"] == 1
        gate.set()
        busy.close()
        await poll_until(lambda: open_count(guard) == 0)
    # The handler whose body never came ended quietly.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_malformed_request_line_is_a_400_and_one_log_line_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with served(tmp_path) as (api, _):
        for _ in range(2):
            conn = await Raw.open(api, b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await conn.closed_by_server()).split(b"\r\n")[0].endswith(b" 400 Bad Request")
    lines = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(lines) == 2
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert lines[0].getMessage() == "API: a malformed HTTP request, answered 400: Invalid char in url path"
    assert "Traceback" not in caplog.text


async def test_metrics_count_the_connections_and_what_the_guard_closed(tmp_path: Path) -> None:
    async with served(tmp_path, max_connections=2) as (api, guard):
        first = await Raw.open(api, HALF_HEAD)
        await poll_until(lambda: open_count(guard) == 1)
        api.clock.advance(16.0)
        assert await first.closed_by_server() == b""
        status, _, text = await api.call("GET", "/metrics")
    assert status == 200
    assert 'raspisms_api_connections_closed_total{reason="head_timeout"} 1' in text
    assert 'raspisms_api_connections{state="handling"} 1' in text  # this very request
    assert "raspisms_api_connections_max 2" in text
