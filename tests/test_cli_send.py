"""How the CLI client (send, phones, attach) reaches the running daemon from ``[api] listen``: a real
aiohttp server on 127.0.0.1, ::1 or a unix socket answers, as the daemon's API does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from raspisms_daemon.commands.send import ApiClientError, api_request
from raspisms_daemon.config import ApiConfig, Config, DaemonConfig, DeliveryConfig, ReliabilityConfig

KEY = "k3y-0123456789abcdef"


def _config(listen: str) -> Config:
    return Config(
        daemon=DaemonConfig(api_key=KEY),
        api=ApiConfig(listen=listen),
        delivery=DeliveryConfig(),
        reliability=ReliabilityConfig(),
    )


class Api:
    """What the daemon's API would see and answer."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None, object]] = []

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json() if request.can_read_body else None
        self.seen.append((request.method, request.path, request.headers.get("X-Api-Key"), payload))
        if request.path == "/missing/":
            return web.json_response({"error": 404, "message": "no such thing"}, status=404)
        return web.json_response({"error": 0, "response": {"echo": payload}})


@pytest.fixture
async def api() -> AsyncIterator[tuple[Api, web.AppRunner]]:
    seen = Api()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", seen.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    yield seen, runner
    await runner.cleanup()


def _free_port(host: str, family: socket.AddressFamily) -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("bind", "listen"),
    [
        ("127.0.0.1", "127.0.0.1:{port}"),
        ("127.0.0.1", "0.0.0.0:{port}"),  # listening everywhere: reached on loopback
        ("::1", "[::1]:{port}"),
        ("::1", "[::]:{port}"),
    ],
)
async def test_a_tcp_listen_is_reached_over_http_and_a_wildcard_on_loopback(
    api: tuple[Api, web.AppRunner], bind: str, listen: str
) -> None:
    seen, runner = api
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    try:
        port = _free_port(bind, family)
    except OSError:
        pytest.skip(f"no {bind} on this machine")
    await web.TCPSite(runner, bind, port).start()
    config = _config(listen.format(port=port))
    status, body = await asyncio.to_thread(api_request, config, "POST", "/api/scheduled/", {"text": "hé"})
    assert status == 200 and body == {"error": 0, "response": {"echo": {"text": "hé"}}}
    assert seen.seen == [("POST", "/api/scheduled/", KEY, {"text": "hé"})]


async def test_a_unix_listen_is_reached_through_its_socket_and_an_error_status_comes_back(
    api: tuple[Api, web.AppRunner], tmp_path: Path
) -> None:
    seen, runner = api
    path = tmp_path / "api.sock"
    await web.UnixSite(runner, str(path)).start()
    config = _config(f"unix:{path}")
    assert await asyncio.to_thread(api_request, config, "GET", "/api/phones/") == (
        200,
        {"error": 0, "response": {"echo": None}},
    )
    status, body = await asyncio.to_thread(api_request, config, "GET", "/missing/")
    assert status == 404 and body["message"] == "no such thing"
    asked = [(method, path, key) for method, path, key, _ in seen.seen]
    assert asked == [("GET", "/api/phones/", KEY), ("GET", "/missing/", KEY)]


async def test_no_daemon_or_a_peer_that_is_not_http_is_a_client_error(tmp_path: Path) -> None:
    with pytest.raises(ApiClientError, match="cannot reach the daemon at unix:"):
        await asyncio.to_thread(api_request, _config(f"unix:{tmp_path / 'none.sock'}"), "GET", "/")

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        writer.close()

    server = await asyncio.start_unix_server(garbage, path=str(tmp_path / "odd.sock"))
    async with server:
        with pytest.raises(ApiClientError, match="not HTTP"):
            await asyncio.to_thread(api_request, _config(f"unix:{tmp_path / 'odd.sock'}"), "GET", "/")


async def test_a_body_that_is_not_json_is_kept_as_the_message(tmp_path: Path) -> None:
    async def plain(request: web.Request) -> web.Response:
        return web.Response(status=502, text="Bad Gateway")

    app = web.Application()
    app.router.add_get("/", plain)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.UnixSite(runner, str(tmp_path / "plain.sock")).start()
        config = _config(f"unix:{tmp_path / 'plain.sock'}")
        assert await asyncio.to_thread(api_request, config, "GET", "/") == (502, {"message": "Bad Gateway"})
    finally:
        await runner.cleanup()
