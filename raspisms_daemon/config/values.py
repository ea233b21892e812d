"""Value converters and validators: one INI value (a string) → a typed value, or why not. Pure.

The ``validate_*`` functions answer ``None`` or a reason and are shared with the API, the store and the
CLI, so that a webhook or key accepted by one is accepted by all. The converters raise
:class:`BadValue`; the INI parser turns that into a Problem for the section and key. Messages never
repeat a secret (an API key, a PIN) or a webhook URL (it often embeds a token).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ..webhooks.events import WEBHOOK_TYPES

__all__ = [
    "MIN_API_KEY_LENGTH",
    "BadValue",
    "Converter",
    "Listen",
    "TcpListen",
    "UnixListen",
    "boolean",
    "broker_url",
    "closest",
    "digits",
    "duration",
    "iccid",
    "integer",
    "listen",
    "minutes",
    "nonempty",
    "number",
    "one_of",
    "parse_duration",
    "parse_listen",
    "pin",
    "schedule",
    "stripped",
    "topic_level",
    "validate_api_key",
    "validate_listen",
    "validate_webhook_name",
    "validate_webhook_url",
    "webhook_types",
    "webhook_url",
]

# At least this long: the key signs every webhook (HMAC key) and guards the local API; RaspiSMS's own
# keys are 32 hex characters.
MIN_API_KEY_LENGTH = 16

_DURATION_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BOOLEANS = {
    **dict.fromkeys(("yes", "true", "on", "1"), True),
    **dict.fromkeys(("no", "false", "off", "0"), False),
}
_WEBHOOK_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LABEL = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


class BadValue(Exception):
    """A value that does not convert; the message says why (and never contains a secret)."""


Converter = Callable[[str], Any]


# --- numbers and durations -------------------------------------------------------------------------


def integer(lo: int | None = None, hi: int | None = None) -> Converter:
    def conv(raw: str) -> int:
        text = raw.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise BadValue(f"{text!r} is not an integer")
        value = int(text)
        _check_range(value, lo, hi)
        return value

    return conv


def number(lo: float | None = None, hi: float | None = None, *, positive: bool = False) -> Converter:
    def conv(raw: str) -> float:
        text = raw.strip()
        try:
            value = float(text)
        except ValueError:
            raise BadValue(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise BadValue(f"{text!r} is not a finite number")
        _check_range(value, lo, hi)
        if positive and value <= 0:
            raise BadValue(f"{value:g} must be greater than 0")
        return value

    return conv


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _check_range(value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise BadValue(f"{_num(value)} is out of range: must be between {_num(lo)} and {_num(hi)}")
    if lo is not None and value < lo:
        raise BadValue(f"{_num(value)} is too small: must be at least {_num(lo)}")
    if hi is not None and value > hi:
        raise BadValue(f"{_num(value)} is too large: must be at most {_num(hi)}")


def parse_duration(raw: str) -> float:
    """``30``, ``30s``, ``1.5s``, ``250ms``, ``5m``, ``2h``, ``7d`` → seconds. Raises ``ValueError``."""
    match = _DURATION_RE.fullmatch(raw.strip().lower())
    if not match:
        raise ValueError(f"{raw.strip()!r} is not a duration (e.g. 30, 30s, 5m, 2h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or ""]


def duration(*, positive: bool = False) -> Converter:
    def conv(raw: str) -> float:
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            raise BadValue(str(exc)) from None
        if positive and value <= 0:
            raise BadValue("must be longer than 0")
        return value

    return conv


def minutes(raw: str) -> float:
    # RaspiSMS counts reliability periods in minutes: a bare number is minutes here; "2h" works too.
    text = raw.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text):
        return float(text)
    try:
        return parse_duration(text) / 60.0
    except ValueError:
        raise BadValue(f"{raw.strip()!r} is not a number of minutes (e.g. 120, or 2h)") from None


def schedule(raw: str) -> tuple[float, ...]:
    # Commas or line breaks separate items, so a long schedule can continue on indented lines.
    items = re.split(r"\s*[,\n]\s*", raw.strip())
    if all(not item for item in items):
        raise BadValue("must list at least one delay (e.g. 0, 5s, 5m, 30m, 2h)")
    out: list[float] = []
    for item in items:
        if not item:
            raise BadValue("empty item in the list")
        try:
            out.append(parse_duration(item))
        except ValueError as exc:
            raise BadValue(str(exc)) from None
    return tuple(out)


# --- words and text ---------------------------------------------------------------------------------


def boolean(raw: str) -> bool:
    try:
        return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise BadValue(f"{raw.strip()!r} is not a boolean (yes/no, true/false, on/off, 1/0)") from None


def one_of(*choices: str) -> Converter:
    """A case-insensitive choice, returned lowercase."""

    def conv(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise BadValue(f"{raw.strip()!r} is not one of: {', '.join(choices)}")
        return value

    return conv


def stripped(raw: str) -> str:
    return raw.strip()


def nonempty(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise BadValue("must not be empty")
    return value


# --- SIM and modem identities -----------------------------------------------------------------------


def digits(what: str, lo: int, hi: int) -> Converter:
    """``lo`` to ``hi`` digits, or None when empty (e.g. an IMEI)."""

    def conv(raw: str) -> str | None:
        value = raw.strip()
        if not value:
            return None
        if not value.isdigit() or not lo <= len(value) <= hi:
            raise BadValue(
                f"{value!r} is not an {what} ({lo}-{hi} digits)"
                if lo != hi
                else f"{value!r} is not an {what} ({lo} digits)"
            )
        return value

    return conv


def iccid(raw: str) -> str | None:
    value = raw.strip().upper()
    if not value:
        return None
    # ICCIDs are 19-20 digits; SIMs report them with a trailing F filler or byte-swapped on some modems.
    if not re.fullmatch(r"\d{18,21}F?", value):
        raise BadValue(f"{value!r} is not an ICCID (18-22 digits)")
    return value


def pin(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.isdigit() or not 4 <= len(value) <= 8:
        raise BadValue("a SIM PIN is 4 to 8 digits")  # the value itself is a secret: never echoed
    return value


# --- webhooks ---------------------------------------------------------------------------------------


def webhook_types(raw: str) -> frozenset[str]:
    """``all`` or a comma list of webhook types, with a "did you mean" for a misspelt one."""
    text = raw.strip()
    if text.lower() == "all":
        return frozenset(WEBHOOK_TYPES)
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise BadValue(f"must be 'all' or a comma list of: {', '.join(WEBHOOK_TYPES)}")
    bad = [item for item in items if item not in WEBHOOK_TYPES]
    if bad:
        hints = []
        for item in bad:
            close = closest(item, WEBHOOK_TYPES)
            hints.append(f"{item!r}" + (f" (did you mean {close}?)" if close else ""))
        raise BadValue(f"unknown type {', '.join(hints)}: use 'all' or some of {', '.join(WEBHOOK_TYPES)}")
    return frozenset(items)


def validate_webhook_name(name: str) -> str | None:
    """``None`` when ``name`` is a valid webhook name, else why not.

    The same rule for the config, the API and the CLI: a name is a path segment of the API
    (``/api/webhooks/{name}/``) and a word on the CLI, so a webhook made by one can be managed by all.
    """
    if not _WEBHOOK_NAME_RE.fullmatch(name):
        return "a webhook name is 1-64 letters, digits, '_', '.' or '-'"
    return None


def validate_webhook_url(url: str) -> str | None:
    """``None`` when ``url`` is an acceptable webhook URL (http/https with a host), else why not.

    The message never repeats the URL: webhook URLs often embed a secret token.
    """
    text = url.strip()
    if not text:
        return "the URL is empty"
    if any(ch.isspace() for ch in text):
        return "the URL contains whitespace"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        return f"the URL is malformed ({exc})"
    del port
    scheme = parts.scheme.lower()
    # urlsplit reads "localhost:8080/x" as scheme "localhost": a port or a dotted name means no scheme.
    looks_hostport = "://" not in text and ("." in scheme or parts.path[:1].isdigit())
    if not scheme or looks_hostport:
        return "the URL has no scheme: write it as http://host/path or https://host/path"
    if scheme not in ("http", "https"):
        return f"scheme {scheme!r} is not allowed: only http:// and https:// URLs are accepted"
    if not parts.hostname:
        return "the URL has no host"
    return None


_TOPIC_LEVEL_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def topic_level(raw: str) -> str:
    """One MQTT topic level we build topics from (``topic_prefix``, ``gateway``): it is also the share
    name of ``$share/<prefix>/…``, so no ``/``, no wildcard, nothing a broker reads specially."""
    value = raw.strip()
    if not _TOPIC_LEVEL_RE.fullmatch(value):
        raise BadValue(f"{value!r} is not 1-64 letters, digits, '_', '.' or '-' (one MQTT topic level)")
    return value


def broker_url(raw: str) -> tuple[str, int, bool]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` → ``(host, port, tls)``; no credentials in it
    (they go in username and password, so that the URL may be logged)."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadValue(f"the URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise BadValue("write it as mqtt://host[:port] or mqtts://host[:port]")
    if not parts.hostname:
        raise BadValue("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BadValue("put the credentials in username and password (or password_file), not in the URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadValue("an MQTT URL is mqtt://host[:port], with nothing after the port")
    tls = scheme == "mqtts"
    return parts.hostname, port if port is not None else (8883 if tls else 1883), tls


def webhook_url(raw: str) -> str:
    reason = validate_webhook_url(raw)
    if reason:
        raise BadValue(reason)
    return raw.strip()


# --- the API ----------------------------------------------------------------------------------------


class TcpListen(NamedTuple):
    host: str  # a host name or IP address; an IPv6 address without its brackets
    port: int  # 0 = any free port


class UnixListen(NamedTuple):
    path: str  # absolute


Listen = TcpListen | UnixListen


def parse_listen(text: str) -> Listen:
    """``HOST:PORT``, ``[IPV6]:PORT`` or ``unix:/abs/path`` → where to listen. Raises ``ValueError``.

    The one reading of ``[api] listen``: the config check, the API server and the CLI client use it.
    """
    text = text.strip()
    if text.startswith("unix:"):
        sock = text[len("unix:") :]
        if not sock.startswith("/"):
            raise ValueError("a unix socket needs an absolute path: unix:/run/raspisms-daemon/api.sock")
        return UnixListen(sock)
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r} is not [IPV6]:PORT")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{text!r} is not HOST:PORT, [IPV6]:PORT or unix:/path")
        if ":" in host:
            raise ValueError("an IPv6 address needs brackets: [::1]:8642")
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(f"{host!r} is not a host name or IPv4 address")
    # isdecimal, not isdigit: int() refuses digits such as "²".
    if not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port {port!r} is not a number between 0 and 65535")
    return TcpListen(host, int(port))


def validate_listen(listen: str) -> str | None:
    """``None`` when ``listen`` is ``HOST:PORT``, ``[V6]:PORT`` or ``unix:/abs/path``, else why not."""
    try:
        parse_listen(listen)
    except ValueError as exc:
        return str(exc)
    return None


def listen(raw: str) -> str:
    reason = validate_listen(raw)
    if reason:
        raise BadValue(reason)
    return raw.strip()


def validate_api_key(key: str) -> str | None:
    """None when ``key`` can sign webhooks and guard the API, else what is wrong (never the key)."""
    if not key:
        return "the API key is empty"
    if not all(33 <= ord(ch) <= 126 for ch in key):
        return "the API key must be printable ASCII without spaces"
    if len(key) < MIN_API_KEY_LENGTH:
        return f"the API key is too short: at least {MIN_API_KEY_LENGTH} characters"
    return None


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``word`` (difflib's ratio at least 0.6), for "did you mean …?"; None when
    none is. difflib is imported here: only a configuration with a typo needs it."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return close[0] if close else None
