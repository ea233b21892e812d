"""The daemon's configuration: one INI file, validated in full before anything starts.

The dataclasses below are the validated result; :func:`load_config` / :func:`parse_config` build them
and raise :class:`~raspisms_daemon.errors.ConfigError` listing *every* problem (section, key, what is
wrong). Durations are seconds (``float``) after parsing; the INI accepts ``30``, ``30s``, ``5m``,
``2h``, ``7d``.
"""

from __future__ import annotations

import configparser
import difflib
import importlib.util
import ipaddress
import math
import re
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, Problem
from .reliability import ReliabilityRule
from .webhooks.events import WEBHOOK_FORMATS, WEBHOOK_TYPES

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EX_CONFIG",
    "KNOWN_KEYS",
    "ApiConfig",
    "Config",
    "DaemonConfig",
    "DeliveryConfig",
    "PhoneConfig",
    "ReliabilityConfig",
    "ReliabilityRule",
    "WebhookConfig",
    "format_problem",
    "load_config",
    "load_config_or_exit",
    "parse_config",
    "parse_duration",
    "validate_api_key",
    "validate_listen",
    "validate_webhook_name",
    "validate_webhook_url",
]

DEFAULT_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)


@dataclass(frozen=True)
class DaemonConfig:
    database: Path = Path("/var/lib/raspisms-daemon/raspisms.sqlite3")
    api_key: str = ""  # from api_key, or read from api_key_file (stripped)
    user_id: int = 1
    log_level: str = "info"  # debug|info|warning|error
    multipart_timeout: float = 86400.0  # incomplete multipart delivered with what arrived after this


@dataclass(frozen=True)
class ApiConfig:
    enabled: bool = True
    listen: str = "127.0.0.1:8642"  # "HOST:PORT", "[::1]:PORT" or "unix:/path/to.sock"


@dataclass(frozen=True)
class DeliveryConfig:
    timeout: float = 15.0
    connect_timeout: float = 5.0
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE  # delay before attempt n (first is 0 = at once)
    jitter: float = 0.2  # ± fraction applied to each delay
    concurrency: int = 32
    per_webhook_concurrency: int = 8
    retention: float = 7 * 86400.0  # delivered outbox rows older than this are pruned
    status_success: str = "delivered"  # word sent in send_sms_status_change for a delivered SMS


@dataclass(frozen=True)
class WebhookConfig:
    name: str
    url: str
    types: frozenset[str] = frozenset(WEBHOOK_TYPES)
    format: str = "form"  # form|json
    enabled: bool = True


@dataclass(frozen=True)
class PhoneConfig:
    id: int
    name: str = ""
    backend: str = "at"  # at|gammu
    device: str = ""  # tty path (e.g. /dev/serial/by-id/...), or gammu device
    imei: str | None = None  # match a device by IMEI instead of path (udev attach)
    iccid: str | None = None
    pin: str | None = None
    baudrate: int = 115200
    delivery_reports: bool = True
    hangup_calls: int = 0  # hang up after N rings; 0 = never
    send_rate: float = 6.0  # SMS parts per minute at most
    sweep_interval: float = 60.0  # AT+CMGL=4 sweep period
    liveness_interval: float = 30.0
    enabled: bool = True
    gammu_connection: str = "at"
    gammu_model: str = ""
    poll_interval: float = 5.0  # gammu backend: GetNextSMS period


@dataclass(frozen=True)
class ReliabilityConfig:
    interval: float = 900.0
    failed: ReliabilityRule = field(default_factory=lambda: ReliabilityRule(True, 10.0, 25, 120.0, 1.0))
    unknown: ReliabilityRule = field(default_factory=lambda: ReliabilityRule(False, 25.0, 25, 120.0, 1.0))
    auto_disable: bool = False


@dataclass(frozen=True)
class Config:
    daemon: DaemonConfig
    api: ApiConfig
    delivery: DeliveryConfig
    reliability: ReliabilityConfig
    webhooks: tuple[WebhookConfig, ...] = ()
    phones: tuple[PhoneConfig, ...] = ()
    path: Path | None = None
    warnings: tuple[str, ...] = ()  # not fatal, to be logged at start (e.g. a world-readable key)


# ---------------------------------------------------------------------------------------------------
# Parsing and validation.
#
# Choices, documented in config.example.ini too:
# - configparser with interpolation off (a "%" in a URL or key is literal) and strict=True: a section or
#   key given twice is an error, not a silent override.
# - Keys are case-sensitive (all documented keys are lowercase): "API_KEY" is reported as unknown, with a
#   "did you mean api_key", rather than quietly accepted. Section names are case-sensitive as well.
# - There is no [DEFAULT] section: configparser would copy its keys into every section.
# - Inline comments need whitespace before them: "timeout = 15  ; seconds".
# - The API key must be at least 16 printable ASCII characters without spaces: it signs every webhook
#   (HMAC key) and guards the local API, and RaspiSMS's own keys are 32 hex characters.
# - Relative paths (database, api_key_file) are relative to the config file's directory.
# ---------------------------------------------------------------------------------------------------

EX_CONFIG = 78  # sysexits.h: configuration error; systemd does not restart-loop on it (see unit file)
DEFAULT_CONFIG_PATH = Path("/etc/raspisms-daemon/config.ini")
MIN_API_KEY_LENGTH = 16
MAX_KEY_FILE = 4096
EXAMPLE_API_KEY = "change-me-0123456789abcdef0123456789"  # the placeholder in config.example.ini

_NO_DEFAULT_SECTION = "\x00no-default-section"
_DURATION_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BOOLEANS = {
    **dict.fromkeys(("yes", "true", "on", "1"), True),
    **dict.fromkeys(("no", "false", "off", "0"), False),
}
_WEBHOOK_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LABEL = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
LOG_LEVELS = ("debug", "info", "warning", "error")
BACKENDS = ("at", "gammu")


class _Bad(Exception):
    """A value that does not convert; the message says why (and never contains a secret)."""


Converter = Callable[[str], Any]


def _int(lo: int | None = None, hi: int | None = None) -> Converter:
    def conv(raw: str) -> int:
        text = raw.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise _Bad(f"{text!r} is not an integer")
        value = int(text)
        _check_range(value, lo, hi)
        return value

    return conv


def _float(lo: float | None = None, hi: float | None = None, *, positive: bool = False) -> Converter:
    def conv(raw: str) -> float:
        text = raw.strip()
        try:
            value = float(text)
        except ValueError:
            raise _Bad(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise _Bad(f"{text!r} is not a finite number")
        _check_range(value, lo, hi)
        if positive and value <= 0:
            raise _Bad(f"{value:g} must be greater than 0")
        return value

    return conv


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _check_range(value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise _Bad(f"{_num(value)} is out of range: must be between {_num(lo)} and {_num(hi)}")
    if lo is not None and value < lo:
        raise _Bad(f"{_num(value)} is too small: must be at least {_num(lo)}")
    if hi is not None and value > hi:
        raise _Bad(f"{_num(value)} is too large: must be at most {_num(hi)}")


def parse_duration(raw: str) -> float:
    """``30``, ``30s``, ``1.5s``, ``250ms``, ``5m``, ``2h``, ``7d`` → seconds. Raises ``ValueError``."""
    match = _DURATION_RE.fullmatch(raw.strip().lower())
    if not match:
        raise ValueError(f"{raw.strip()!r} is not a duration (e.g. 30, 30s, 5m, 2h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or ""]


def _duration(*, positive: bool = False) -> Converter:
    def conv(raw: str) -> float:
        try:
            value = parse_duration(raw)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        if positive and value <= 0:
            raise _Bad("must be longer than 0")
        return value

    return conv


def _minutes(raw: str) -> float:
    # RaspiSMS counts reliability periods in minutes: a bare number is minutes here; "2h" works too.
    text = raw.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text):
        return float(text)
    try:
        return parse_duration(text) / 60.0
    except ValueError:
        raise _Bad(f"{raw.strip()!r} is not a number of minutes (e.g. 120, or 2h)") from None


def _bool(raw: str) -> bool:
    try:
        return _BOOLEANS[raw.strip().lower()]
    except KeyError:
        raise _Bad(f"{raw.strip()!r} is not a boolean (yes/no, true/false, on/off, 1/0)") from None


def _enum(*choices: str) -> Converter:
    def conv(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise _Bad(f"{raw.strip()!r} is not one of: {', '.join(choices)}")
        return value

    return conv


def _text(raw: str) -> str:
    return raw.strip()


def _nonempty(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise _Bad("must not be empty")
    return value


def _optional_digits(what: str, lo: int, hi: int) -> Converter:
    def conv(raw: str) -> str | None:
        value = raw.strip()
        if not value:
            return None
        if not value.isdigit() or not lo <= len(value) <= hi:
            raise _Bad(
                f"{value!r} is not an {what} ({lo}-{hi} digits)"
                if lo != hi
                else f"{value!r} is not an {what} ({lo} digits)"
            )
        return value

    return conv


def _iccid(raw: str) -> str | None:
    value = raw.strip().upper()
    if not value:
        return None
    # ICCIDs are 19-20 digits; SIMs report them with a trailing F filler or byte-swapped on some modems.
    if not re.fullmatch(r"\d{18,21}F?", value):
        raise _Bad(f"{value!r} is not an ICCID (18-22 digits)")
    return value


def _pin(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.isdigit() or not 4 <= len(value) <= 8:
        raise _Bad("a SIM PIN is 4 to 8 digits")  # the value itself is a secret: never echoed
    return value


def _schedule(raw: str) -> tuple[float, ...]:
    # Commas or line breaks separate items, so a long schedule can continue on indented lines.
    items = re.split(r"\s*[,\n]\s*", raw.strip())
    if all(not item for item in items):
        raise _Bad("must list at least one delay (e.g. 0, 5s, 5m, 30m, 2h)")
    out: list[float] = []
    for item in items:
        if not item:
            raise _Bad("empty item in the list")
        try:
            out.append(parse_duration(item))
        except ValueError as exc:
            raise _Bad(str(exc)) from None
    return tuple(out)


def _types(raw: str) -> frozenset[str]:
    text = raw.strip()
    if text.lower() == "all":
        return frozenset(WEBHOOK_TYPES)
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise _Bad(f"must be 'all' or a comma list of: {', '.join(WEBHOOK_TYPES)}")
    bad = [item for item in items if item not in WEBHOOK_TYPES]
    if bad:
        hints = []
        for item in bad:
            close = difflib.get_close_matches(item, WEBHOOK_TYPES, n=1)
            hints.append(f"{item!r}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise _Bad(f"unknown type {', '.join(hints)}: use 'all' or some of {', '.join(WEBHOOK_TYPES)}")
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


def _url(raw: str) -> str:
    reason = validate_webhook_url(raw)
    if reason:
        raise _Bad(reason)
    return raw.strip()


def validate_listen(listen: str) -> str | None:
    """``None`` when ``listen`` is ``HOST:PORT``, ``[V6]:PORT`` or ``unix:/abs/path``, else why not."""
    text = listen.strip()
    if text.startswith("unix:"):
        sock = text[len("unix:") :]
        if not sock.startswith("/"):
            return "a unix socket needs an absolute path: unix:/run/raspisms-daemon/api.sock"
        return None
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            return f"{text!r} is not [IPV6]:PORT"
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            return f"{text!r} is not HOST:PORT, [IPV6]:PORT or unix:/path"
        if ":" in host:
            return "an IPv6 address needs brackets: [::1]:8642"
        if not _HOSTNAME_RE.fullmatch(host):
            return f"{host!r} is not a host name or IPv4 address"
    # isdecimal, not isdigit: int() refuses digits such as "²".
    if not port.isdecimal() or not 0 <= int(port) <= 65535:
        return f"port {port!r} is not a number between 0 and 65535"
    return None


def _listen(raw: str) -> str:
    reason = validate_listen(raw)
    if reason:
        raise _Bad(reason)
    return raw.strip()


def _word(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", value):
        raise _Bad(f"{value!r} is not a single word (e.g. delivered, success)")
    return value


_DAEMON_KEYS: dict[str, Converter] = {
    "database": _nonempty,
    "api_key": _text,  # checked separately, so that the value is never echoed
    "api_key_file": _nonempty,
    "user_id": _int(1),
    "log_level": _enum(*LOG_LEVELS),
    "multipart_timeout": _duration(positive=True),
}
_API_KEYS: dict[str, Converter] = {"enabled": _bool, "listen": _listen}
_DELIVERY_KEYS: dict[str, Converter] = {
    "timeout": _duration(positive=True),
    "connect_timeout": _duration(positive=True),
    "schedule": _schedule,
    "jitter": _float(0.0, 1.0),
    "concurrency": _int(1, 10_000),
    "per_webhook_concurrency": _int(1, 10_000),
    "retention": _duration(),
    "status_success": _word,
}
_RULE_KEYS: dict[str, Converter] = {
    "enabled": _bool,
    "rate": _float(0.0, 100.0),
    "volume": _int(1),
    "period": _minutes,
    "grace": _minutes,
}
_RELIABILITY_KEYS: dict[str, Converter] = {
    "interval": _duration(positive=True),
    "auto_disable": _bool,
    **{f"{kind}_{key}": conv for kind in ("failed", "unknown") for key, conv in _RULE_KEYS.items()},
}
_WEBHOOK_KEYS: dict[str, Converter] = {
    "url": _url,
    "types": _types,
    "format": _enum(*WEBHOOK_FORMATS),
    "enabled": _bool,
}
_PHONE_KEYS: dict[str, Converter] = {
    "name": _text,
    "backend": _enum(*BACKENDS),
    "device": _text,
    "imei": _optional_digits("IMEI", 15, 16),
    "iccid": _iccid,
    "pin": _pin,
    "baudrate": _int(300, 4_000_000),
    "delivery_reports": _bool,
    "hangup_calls": _int(0, 100),
    "send_rate": _float(positive=True),
    "sweep_interval": _duration(positive=True),
    "liveness_interval": _duration(positive=True),
    "enabled": _bool,
    "gammu_connection": _nonempty,
    "gammu_model": _text,
    "poll_interval": _duration(positive=True),
}
_FIXED_SECTIONS: dict[str, dict[str, Converter]] = {
    "daemon": _DAEMON_KEYS,
    "api": _API_KEYS,
    "delivery": _DELIVERY_KEYS,
    "reliability": _RELIABILITY_KEYS,
}
_SECTION_PATTERNS = ("webhook:NAME", "phone:ID")
_SECRET_KEYS = frozenset({"api_key", "pin"})

# Every key each section accepts, for documentation checks and "did you mean".
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    **{name: tuple(keys) for name, keys in _FIXED_SECTIONS.items()},
    "webhook:NAME": tuple(_WEBHOOK_KEYS),
    "phone:ID": tuple(_PHONE_KEYS),
}


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]}?)" if close else ""


class _Collector:
    """Converts the keys of one section, recording one Problem per bad or unknown key."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.failed: set[tuple[str, str]] = set()  # (section, key) with a bad value: skip cross-checks

    def ok(self, section: str, *keys: str) -> bool:
        return not any((section, key) in self.failed for key in keys)

    def add(self, section: str, key: str | None, message: str) -> None:
        self.problems.append(Problem(section, key, message))

    def section(
        self, parser: configparser.RawConfigParser, section: str, spec: dict[str, Converter]
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, raw in parser.items(section, raw=True):
            conv = spec.get(key)
            if conv is None:
                self.add(section, key, "unknown key" + _suggest(key, spec))
                continue
            try:
                values[key] = conv(raw)
            except _Bad as exc:
                self.failed.add((section, key))
                message = str(exc)
                # Secret keys' converters never echo the value; this guards against a future one that does.
                if key in _SECRET_KEYS and raw.strip() and raw.strip() in message:
                    message = "invalid value (not shown: it is a secret)"
                self.add(section, key, message)
        return values


def _resolve(raw: str, base: Path | None) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _world_readable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False


def validate_api_key(key: str) -> str | None:
    """None when ``key`` can sign webhooks and guard the API, else what is wrong (never the key)."""
    if not key:
        return "the API key is empty"
    if not all(33 <= ord(ch) <= 126 for ch in key):
        return "the API key must be printable ASCII without spaces"
    if len(key) < MIN_API_KEY_LENGTH:
        return f"the API key is too short: at least {MIN_API_KEY_LENGTH} characters"
    return None


def _check_api_key(key: str, where: str, col: _Collector) -> bool:
    problem = validate_api_key(key)
    if problem is not None:
        col.add("daemon", where, problem)
    return problem is None


def _read_config_parser(text: str, col: _Collector) -> configparser.RawConfigParser | None:
    def make(strict: bool) -> configparser.RawConfigParser:
        parser = configparser.RawConfigParser(
            strict=strict,
            default_section=_NO_DEFAULT_SECTION,
            inline_comment_prefixes=("#", ";"),
            interpolation=None,
        )
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
        return parser

    parser = make(strict=True)
    try:
        parser.read_string(text)
        return parser
    except configparser.DuplicateSectionError as exc:
        col.add(exc.section, None, f"section given twice (line {exc.lineno})")
    except configparser.DuplicateOptionError as exc:
        col.add(exc.section, exc.option, f"key given twice in the section (line {exc.lineno})")
    except configparser.MissingSectionHeaderError as exc:
        col.add("file", None, f"line {exc.lineno}: a key outside any section (start with [daemon])")
        return None
    except configparser.ParsingError as exc:
        for lineno, _line in exc.errors:
            col.add("file", None, f"line {lineno}: not 'key = value', a [section] or a comment")
        return None
    # A duplicate stops configparser at once: re-read leniently so the other problems are reported too.
    lenient = make(strict=False)
    try:
        lenient.read_string(text)
    except configparser.Error:
        return None
    return lenient


def parse_config(text: str, *, path: Path | None = None) -> Config:
    """Validate the INI ``text`` in full; raise ConfigError listing every problem.

    ``path`` (the file the text came from) anchors relative paths and enables the world-readable
    warning; it is stored in ``Config.path``.
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    col = _Collector(problems)
    parser = _read_config_parser(text, col)
    if parser is None:
        raise ConfigError(problems)
    base = path.parent if path is not None else None

    fixed: dict[str, dict[str, Any]] = {name: {} for name in _FIXED_SECTIONS}
    webhooks: list[WebhookConfig] = []
    phones: list[PhoneConfig] = []
    for section in parser.sections():
        if section in _FIXED_SECTIONS:
            fixed[section] = col.section(parser, section, _FIXED_SECTIONS[section])
        elif section.startswith("webhook:"):
            hook = _webhook(parser, section, col)
            if hook is not None:
                webhooks.append(hook)
        elif section.startswith("phone:"):
            phone = _phone(parser, section, col)
            if phone is not None:
                phones.append(phone)
        else:
            prefix, colon, rest = section.partition(":")
            if colon:
                close = difflib.get_close_matches(prefix.lower(), ["webhook", "phone"], n=1)
                hint = f" (did you mean [{close[0]}:{rest}]?)" if close else ""
            else:
                close = difflib.get_close_matches(section.lower(), list(_FIXED_SECTIONS), n=1)
                hint = f" (did you mean [{close[0]}]?)" if close else ""
            allowed = ", ".join(f"[{s}]" for s in (*_FIXED_SECTIONS, *_SECTION_PATTERNS))
            col.add(section, None, f"unknown section{hint}; sections are {allowed}")

    daemon = _daemon(fixed["daemon"], parser.has_section("daemon"), base, path, col, warnings)
    api = ApiConfig(**fixed["api"])
    delivery = _delivery(fixed["delivery"], col)
    reliability = _reliability(fixed["reliability"], col)
    _check_phones_unique(phones, col)

    if problems:
        raise ConfigError(problems)
    return Config(
        daemon=daemon,
        api=api,
        delivery=delivery,
        reliability=reliability,
        webhooks=tuple(webhooks),
        phones=tuple(sorted(phones, key=lambda p: p.id)),
        path=path,
        warnings=tuple(warnings),
    )


def _daemon(
    values: dict[str, Any],
    present: bool,
    base: Path | None,
    path: Path | None,
    col: _Collector,
    warnings: list[str],
) -> DaemonConfig:
    key_file_raw = values.pop("api_key_file", None)
    inline_key = values.pop("api_key", None)
    api_key = ""
    if inline_key is not None and key_file_raw is not None:
        col.add("daemon", "api_key", "give either api_key or api_key_file, not both")
    elif inline_key is not None:
        if _check_api_key(inline_key, "api_key", col):
            api_key = inline_key
            if path is not None and _world_readable(path):
                warnings.append(
                    f"{path} holds [daemon] api_key and is readable by every user: "
                    f"chmod 640 it, or move the key to api_key_file"
                )
            if inline_key == EXAMPLE_API_KEY:
                warnings.append("[daemon] api_key is still the example key: set your own")
    elif key_file_raw is not None:
        key_file = _resolve(key_file_raw, base)
        try:
            # Bounded read: a key is short, and a mistaken path (/dev/zero, a log) must not hang us.
            with key_file.open("rb") as fh:
                raw = fh.read(MAX_KEY_FILE + 1)
            if len(raw) > MAX_KEY_FILE:
                raise UnicodeDecodeError("ascii", raw[:1], 0, 1, "too long")
            content = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            col.add(
                "daemon",
                "api_key_file",
                f"{key_file} is not a key file (ASCII text, under {MAX_KEY_FILE} bytes)",
            )
        except OSError as exc:
            col.add("daemon", "api_key_file", f"cannot read {key_file}: {exc.strerror or exc}")
        else:
            if _check_api_key(content, "api_key_file", col):
                api_key = content
                if _world_readable(key_file):
                    warnings.append(f"{key_file} (the API key) is readable by every user: chmod 600 it")
    else:
        where = "" if present else " (section [daemon] is missing)"
        col.add("daemon", "api_key", "an API key is required: set api_key or api_key_file" + where)
    if "database" in values:
        values["database"] = _resolve(values["database"], base)
    return DaemonConfig(api_key=api_key, **values)


def _delivery(values: dict[str, Any], col: _Collector) -> DeliveryConfig:
    cfg = DeliveryConfig()
    timeout = values.get("timeout", cfg.timeout)
    connect = values.get("connect_timeout", cfg.connect_timeout)
    if col.ok("delivery", "timeout", "connect_timeout"):
        if connect > timeout:
            col.add(
                "delivery",
                "connect_timeout",
                f"{connect:g}s is longer than timeout ({timeout:g}s), which bounds the whole request",
            )
    per_hook = values.get("per_webhook_concurrency", cfg.per_webhook_concurrency)
    total = values.get("concurrency", cfg.concurrency)
    if per_hook > total and col.ok("delivery", "concurrency", "per_webhook_concurrency"):
        col.add("delivery", "per_webhook_concurrency", f"{per_hook} is more than concurrency ({total})")
    return replace(cfg, **values)


def _reliability(values: dict[str, Any], col: _Collector) -> ReliabilityConfig:
    cfg = ReliabilityConfig()
    rules: dict[str, ReliabilityRule] = {}
    for kind in ("failed", "unknown"):
        base_rule: ReliabilityRule = getattr(cfg, kind)
        fields = {
            "enabled": values.pop(f"{kind}_enabled", base_rule.enabled),
            "rate_limit": values.pop(f"{kind}_rate", base_rule.rate_limit),
            "volume": values.pop(f"{kind}_volume", base_rule.volume),
            "period": values.pop(f"{kind}_period", base_rule.period),
            "grace": values.pop(f"{kind}_grace", base_rule.grace),
        }
        rule = ReliabilityRule(**fields)
        # Cross-checks only between values that converted (a bad one is reported already).
        if col.ok("reliability", f"{kind}_period", f"{kind}_grace"):
            if rule.period <= 0:
                col.add("reliability", f"{kind}_period", "must be longer than 0 minutes")
            elif rule.grace >= rule.period:
                col.add(
                    "reliability",
                    f"{kind}_grace",
                    f"{rule.grace:g} min is not shorter than {kind}_period ({rule.period:g} min)",
                )
        rules[kind] = rule
    return ReliabilityConfig(failed=rules["failed"], unknown=rules["unknown"], **values)


def _webhook(parser: configparser.RawConfigParser, section: str, col: _Collector) -> WebhookConfig | None:
    name = section[len("webhook:") :]
    values = col.section(parser, section, _WEBHOOK_KEYS)
    reason = validate_webhook_name(name)
    if reason is not None:
        col.add(section, None, f"{reason} ([webhook:inbox])")
        return None
    if "url" not in values:
        if not parser.has_option(section, "url"):
            col.add(section, "url", "missing: every webhook needs a url")
        return None
    return WebhookConfig(name=name, **values)


def _phone(parser: configparser.RawConfigParser, section: str, col: _Collector) -> PhoneConfig | None:
    raw_id = section[len("phone:") :]
    values = col.section(parser, section, _PHONE_KEYS)
    # isdecimal, not isdigit: int() refuses digits such as "²".
    if not raw_id.isdecimal() or int(raw_id) < 1 or str(int(raw_id)) != raw_id:
        col.add(section, None, f"the phone id must be a positive integer ([phone:1]), not {raw_id!r}")
        return None
    phone = PhoneConfig(id=int(raw_id), **values)
    if not (phone.device or phone.imei or phone.iccid):
        col.add(section, "device", "missing: set device (e.g. /dev/serial/by-id/…), or imei/iccid to match")
    if phone.backend == "gammu" and importlib.util.find_spec("gammu") is None:
        col.add(section, "backend", "backend = gammu needs python-gammu (pip install raspisms-daemon[gammu])")
    return phone


def _check_phones_unique(phones: list[PhoneConfig], col: _Collector) -> None:
    for attr in ("device", "imei", "iccid"):
        seen: dict[str, int] = {}
        for phone in phones:
            value = getattr(phone, attr)
            if not value:
                continue
            if value in seen:
                message = f"same {attr} as [phone:{seen[value]}]: each phone needs its own"
                col.add(f"phone:{phone.id}", attr, message)
            else:
                seen[value] = phone.id


def load_config(path: Path | str) -> Config:
    """Read and validate the config file; an unreadable file is a ConfigError too."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(file), None, "the file is not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(file), None, f"cannot read the file: {exc.strerror or exc}")]) from exc
    return parse_config(text, path=file)


def format_problem(problem: Problem) -> str:
    """``config error: [section] key: message`` (the line check-config and run print)."""
    return f"config error: {problem}"


def load_config_or_exit(path: Path | str) -> Config:
    """load_config, or print one line per problem on stderr and exit 78 (EX_CONFIG).

    Warnings are not printed here: the caller logs ``config.warnings`` its own way.
    """
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(format_problem(problem), file=sys.stderr)
        sys.exit(EX_CONFIG)
