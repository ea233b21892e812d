"""The API server itself: auth, the envelope on every error, 404/405/500 as JSON, listening addresses."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from raspisms_daemon.api.server import start_api

from .conftest import API_KEY, Api, FakeDaemon

ENVELOPE_KEYS = {"error", "message", "response", "next", "prev"}


def assert_error(status: int, body: object, text: str, want_status: int, want_code: int) -> str:
    assert status == want_status, text
    assert isinstance(body, dict) and set(body) == ENVELOPE_KEYS, text
    assert body["error"] == want_code and body["response"] is None
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in text and 'File "' not in text
    return body["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/list/received/"),
        ("POST", "/api/scheduled/"),
        ("DELETE", "/api/scheduled/1/"),
        ("GET", "/api/webhooks/"),
        ("GET", "/api/deliveries/"),
        ("GET", "/api/phones/"),
        ("POST", "/api/daemon/attach"),
        ("GET", "/api/nowhere"),
    ],
)
async def test_missing_key_is_401_on_every_api_route(api: Api, method: str, path: str) -> None:
    status, body, text = await api.call(method, path, auth=False)
    message = assert_error(status, body, text, 401, 1)
    assert "X-Api-Key" in message


async def test_wrong_key_is_401_and_right_key_passes(api: Api) -> None:
    for bad in ("wrong", API_KEY + "x", API_KEY[:-1], "é" * 10, ""):
        status, body, text = await api.call("GET", "/api/phones/", auth=False, headers={"X-Api-Key": bad})
        assert_error(status, body, text, 401, 1)
    status, body, _ = await api.call("GET", "/api/phones/")
    assert status == 200 and body["error"] == 0


async def test_raspisms_api_key_query_parameter_is_accepted(api: Api) -> None:
    status, body, _ = await api.call("GET", f"/api/list/phone/?api_key={API_KEY}", auth=False)
    assert status == 200 and body["error"] == 0
    status, _, _ = await api.call("GET", "/api/list/phone/?api_key=nope", auth=False)
    assert status == 401


async def test_unknown_route_is_404_json(api: Api) -> None:
    status, body, text = await api.call("GET", "/api/does-not-exist/")
    message = assert_error(status, body, text, 404, 512)
    assert "GET /api/does-not-exist/" in message


async def test_wrong_method_is_405_json(api: Api) -> None:
    status, body, text = await api.call("PUT", "/api/scheduled/")
    message = assert_error(status, body, text, 405, 2)
    assert "POST" in message


async def test_unexpected_exception_is_500_without_details(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.daemon.fail_phone_status = True
    status, body, text = await api.call("GET", "/api/phones/")
    message = assert_error(status, body, text, 500, 256)
    assert "secret internal detail" not in text and "SELECT" not in text and "RuntimeError" not in text
    assert message == "internal error (details in the daemon's log)"
    assert "secret internal detail" in caplog.text  # it is in the log, for the owner


async def test_too_large_body_is_413_json(api: Api) -> None:
    status, body, text = await api.call("POST", "/api/scheduled/", json={"text": "x" * (1024 * 1024 + 10)})
    assert_error(status, body, text, 413, 2)


async def test_healthz_needs_no_key(api: Api) -> None:
    status, body, _ = await api.call("GET", "/healthz", auth=False)
    assert status == 200
    assert body == {
        "status": "ok",
        "phones": {"configured": 2, "connected": 1, "disconnected": 1, "disabled": 0},
        "backlog": 0,
    }


async def test_api_key_never_appears_in_any_answer(api: Api) -> None:
    for method, path in [
        ("GET", "/api/list/scheduled/0/"),
        ("GET", "/metrics"),
        ("GET", "/healthz"),
        ("GET", "/api/nowhere"),
        ("GET", "/api/webhooks/"),
    ]:
        _, _, text = await api.call(method, path)
        assert API_KEY not in text


async def test_serves_on_a_unix_socket(tmp_path: Path, api: Api) -> None:
    sock = tmp_path / "api.sock"
    runner = await start_api(api.daemon, f"unix:{sock}")
    try:
        assert sock.stat().st_mode & 0o777 == 0o660
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as session:
            async with asyncio.timeout(10):
                async with session.get(
                    "http://localhost/api/phones/", headers={"X-Api-Key": API_KEY}
                ) as resp:
                    assert resp.status == 200
                    assert [p["id"] for p in (await resp.json())["response"]] == [1, 2]
    finally:
        await runner.cleanup()


async def test_serves_on_ipv6_loopback(api: Api) -> None:
    runner = await start_api(api.daemon, "[::1]:0")
    try:
        host, port = runner.addresses[0][:2]
        assert host == "::1"
        async with asyncio.timeout(10):
            async with api.session.get(f"http://[::1]:{port}/healthz") as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_bad_listen_is_refused_before_binding(api: Api) -> None:
    with pytest.raises(ValueError, match="listen"):
        await start_api(api.daemon, "nowhere")


async def test_port_in_use_raises_and_leaves_nothing_running(api: Api) -> None:
    port = int(api.base.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        runner = await start_api(api.daemon, f"127.0.0.1:{port}")
        await runner.cleanup()  # pragma: no cover - only if the bind unexpectedly succeeded


def test_fake_daemon_satisfies_the_protocol() -> None:
    # The test double must keep the shape of the real contract (attributes and methods).
    from raspisms_daemon.api.control import DaemonControl

    for name in ("phone_status", "wake_sender", "wake_dispatcher", "attach", "metrics"):
        assert hasattr(DaemonControl, name) and hasattr(FakeDaemon, name)
