"""Single values: durations, webhook URLs and names, API keys (pure functions)."""

from __future__ import annotations

import pytest

from raspisms_daemon.config import (
    parse_duration,
    validate_api_key,
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
