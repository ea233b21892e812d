"""Where the CLI client (send, phones, attach) reaches the running daemon, from ``[api] listen``."""

from __future__ import annotations

import aiohttp
import pytest

from raspisms_daemon.commands.send import _base
from raspisms_daemon.config import ApiConfig, Config, DaemonConfig, DeliveryConfig, ReliabilityConfig


def _config(listen: str) -> Config:
    return Config(
        daemon=DaemonConfig(api_key="k3y-0123456789abcdef"),
        api=ApiConfig(listen=listen),
        delivery=DeliveryConfig(),
        reliability=ReliabilityConfig(),
    )


@pytest.mark.parametrize(
    ("listen", "base"),
    [
        ("127.0.0.1:8642", "http://127.0.0.1:8642"),
        ("localhost:1", "http://localhost:1"),
        ("0.0.0.0:8642", "http://127.0.0.1:8642"),
        ("[::1]:8642", "http://[::1]:8642"),
        ("[::]:8642", "http://[::1]:8642"),
        ("[fe80::1]:80", "http://[fe80::1]:80"),
    ],
)
async def test_a_tcp_listen_is_reached_over_http_and_a_wildcard_on_loopback(listen: str, base: str) -> None:
    assert _base(_config(listen)) == (base, None)


async def test_a_unix_listen_is_reached_through_its_socket() -> None:
    base, connector = _base(_config("unix:/run/raspisms-daemon/api.sock"))
    assert base == "http://raspisms-daemon"
    assert isinstance(connector, aiohttp.UnixConnector) and connector.path == "/run/raspisms-daemon/api.sock"
    await connector.close()
