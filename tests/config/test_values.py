"""Single values: durations, listen addresses, webhook URLs and names, API keys (pure functions)."""

from __future__ import annotations

import pytest

from raspisms_daemon.config import (
    TcpListen,
    UnixListen,
    parse_duration,
    parse_listen,
    validate_api_key,
    validate_listen,
    validate_webhook_name,
    validate_webhook_url,
)

# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("30", 30.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        (" 10 m ", 600.0),
        ("0", 0.0),
        ("2H", 7200.0),
    ],
)
def test_durations_are_seconds_with_an_optional_unit(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "s", "5 minutes", "-5s", "1h30m", "5w", "nan", "inf"])
def test_bad_durations_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(raw)


# --- [api] listen ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:8642", TcpListen("127.0.0.1", 8642)),
        ("localhost:1", TcpListen("localhost", 1)),
        ("[::1]:8642", TcpListen("::1", 8642)),
        ("[::1]:0", TcpListen("::1", 0)),
        ("[::]:0", TcpListen("::", 0)),
        ("0.0.0.0:65535", TcpListen("0.0.0.0", 65535)),
        ("host.example.org.:80", TcpListen("host.example.org.", 80)),
        ("  127.0.0.1:8642\n", TcpListen("127.0.0.1", 8642)),
        ("unix:/run/x/api.sock", UnixListen("/run/x/api.sock")),
        ("unix:/run/x.sock", UnixListen("/run/x.sock")),
        (" unix:/run/x.sock ", UnixListen("/run/x.sock")),
    ],
)
def test_parse_listen_gives_a_tcp_host_and_port_or_a_unix_socket_path(
    text: str, parsed: TcpListen | UnixListen
) -> None:
    assert parse_listen(text) == parsed
    assert validate_listen(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8642", "'8642' is not HOST:PORT, [IPV6]:PORT or unix:/path"),
        (":8642", "':8642' is not HOST:PORT, [IPV6]:PORT or unix:/path"),
        ("x", "'x' is not HOST:PORT, [IPV6]:PORT or unix:/path"),
        ("", "'' is not HOST:PORT, [IPV6]:PORT or unix:/path"),
        ("::1:8642", "an IPv6 address needs brackets: [::1]:8642"),
        ("[::1]8642", "'[::1]8642' is not [IPV6]:PORT"),
        ("[nope]:1", "'nope' is not an IPv6 address"),
        ("[127.0.0.1]:1", "'127.0.0.1' is not an IPv6 address"),
        ("h:65536", "port '65536' is not a number between 0 and 65535"),
        ("h:http", "port 'http' is not a number between 0 and 65535"),
        ("h:", "port '' is not a number between 0 and 65535"),
        ("h:-1", "port '-1' is not a number between 0 and 65535"),
        ("h:²", "port '²' is not a number between 0 and 65535"),
        ("unix:relative.sock", "a unix socket needs an absolute path: unix:/run/raspisms-daemon/api.sock"),
        ("unix:", "a unix socket needs an absolute path: unix:/run/raspisms-daemon/api.sock"),
        ("bad host:1", "'bad host' is not a host name or IPv4 address"),
    ],
)
def test_parse_listen_refuses_anything_else_and_says_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_listen(text)
    assert str(info.value) == message
    assert validate_listen(text) == message


# --- webhooks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "HTTPS://Example.org", "http://[::1]:9/a?b=c#d"])
def test_http_and_https_urls_with_a_host_are_good_webhook_urls(url: str) -> None:
    assert validate_webhook_url(url) is None


@pytest.mark.parametrize("name", ["a", "inbox", "all.of-them_2", "A" * 64, "0"])
def test_good_webhook_names(name: str) -> None:
    assert validate_webhook_name(name) is None


@pytest.mark.parametrize("name", ["", "a b", "-a", ".a", "A" * 65, "a/b", "é"])
def test_a_webhook_name_is_letters_digits_dot_dash_underscore(name: str) -> None:
    assert validate_webhook_name(name) == "a webhook name is 1-64 letters, digits, '_', '.' or '-'"


# --- the API key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("0123456789abcdef", None),
        ("change-me-0123456789abcdef0123456789", None),
        ("", "the API key is empty"),
        ("0123456789abcde", "the API key is too short: at least 16 characters"),
        ("0123456789 abcdef01", "the API key must be printable ASCII without spaces"),
        ("0123456789abcdéf01", "the API key must be printable ASCII without spaces"),
    ],
)
def test_an_api_key_is_16_or_more_printable_ascii_characters(key: str, problem: str | None) -> None:
    assert validate_api_key(key) == problem
