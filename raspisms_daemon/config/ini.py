"""INI text → :class:`~raspisms_daemon.config.schema.Config`, collecting *every* problem.

Pure: the few things validation asks of the machine (a key file's content, whether a file is readable
by every user, whether python-gammu is installed) go through an injected :class:`Host`.

Choices, documented in config.example.ini too:

- configparser with interpolation off (a "%" in a URL or key is literal) and strict=True: a section or
  key given twice is an error, not a silent override.
- Keys are case-sensitive (all documented keys are lowercase): "API_KEY" is reported as unknown, with a
  "did you mean api_key", rather than quietly accepted. Section names are case-sensitive as well.
- There is no [DEFAULT] section: configparser would copy its keys into every section.
- Inline comments need whitespace before them: "timeout = 15  ; seconds".
- The API key must be at least 16 printable ASCII characters without spaces (see values.py).
- Relative paths (database, api_key_file, a webhook's ca_file) are relative to the config file's directory.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError, Problem
from ..reliability import ReliabilityRule
from ..webhooks.events import WEBHOOK_FLAVORS, WEBHOOK_FORMATS
from .schema import (
    BACKENDS,
    LOG_LEVELS,
    ApiConfig,
    Config,
    DaemonConfig,
    DeliveryConfig,
    MqttConfig,
    PhoneConfig,
    ReliabilityConfig,
    SmsStopConfig,
    WebhookConfig,
)
from .values import (
    BadValue,
    Converter,
    boolean,
    broker_url,
    closest,
    digits,
    duration,
    iccid,
    integer,
    listen,
    minutes,
    nonempty,
    number,
    one_of,
    pin,
    schedule,
    stripped,
    topic_level,
    validate_api_key,
    validate_webhook_name,
    webhook_types,
    webhook_url,
)

__all__ = ["EXAMPLE_API_KEY", "KNOWN_KEYS", "MAX_KEY_FILE", "Host", "parse_ini"]

MAX_KEY_FILE = 4096
EXAMPLE_API_KEY = "change-me-0123456789abcdef0123456789"  # the placeholder in config.example.ini

_NO_DEFAULT_SECTION = "\x00no-default-section"

_DAEMON_KEYS: dict[str, Converter] = {
    "database": nonempty,
    "api_key": stripped,  # checked separately, so that the value is never echoed
    "api_key_file": nonempty,
    "user_id": integer(1),
    "log_level": one_of(*LOG_LEVELS),
    "multipart_timeout": duration(positive=True),
}
_API_KEYS: dict[str, Converter] = {"enabled": boolean, "listen": listen, "templating": boolean}
_DELIVERY_KEYS: dict[str, Converter] = {
    "timeout": duration(positive=True),
    "connect_timeout": duration(positive=True),
    "schedule": schedule,
    "jitter": number(0.0, 1.0),
    "concurrency": integer(1, 10_000),
    "per_webhook_concurrency": integer(1, 10_000),
    "retention": duration(),
}
_RULE_KEYS: dict[str, Converter] = {
    "enabled": boolean,
    "rate": number(0.0, 100.0),
    "volume": integer(1),
    "period": minutes,
    "grace": minutes,
}
_RELIABILITY_KEYS: dict[str, Converter] = {
    "interval": duration(positive=True),
    "auto_disable": boolean,
    **{f"{kind}_{key}": conv for kind in ("failed", "unknown") for key, conv in _RULE_KEYS.items()},
}
_WEBHOOK_KEYS: dict[str, Converter] = {
    "url": webhook_url,
    "types": webhook_types,
    "format": one_of(*WEBHOOK_FORMATS),
    "enabled": boolean,
    "flavor": one_of(*WEBHOOK_FLAVORS),
    "ca_file": nonempty,
    "verify": boolean,
}
_PHONE_KEYS: dict[str, Converter] = {
    "name": stripped,
    "backend": one_of(*BACKENDS),
    "device": stripped,
    "imei": digits("IMEI", 15, 16),
    "iccid": iccid,
    "pin": pin,
    "baudrate": integer(300, 4_000_000),
    "delivery_reports": boolean,
    "hangup_calls": integer(0, 100),
    "send_rate": number(positive=True),
    "sweep_interval": duration(positive=True),
    "liveness_interval": duration(positive=True),
    "enabled": boolean,
    "gammu_connection": nonempty,
    "gammu_model": stripped,
    "poll_interval": duration(positive=True),
    "group": integer(1),
    "priority": integer(0),
}
_SMS_STOP_KEYS: dict[str, Converter] = {"enabled": boolean, "reply": stripped}
_MQTT_KEYS: dict[str, Converter] = {
    "url": broker_url,
    "ca_file": nonempty,
    "username": nonempty,
    "password": stripped,  # checked separately, so that the value is never echoed
    "password_file": nonempty,
    "client_id": nonempty,
    "topic_prefix": topic_level,
    "gateway": topic_level,
    "homeassistant": boolean,
    "discovery_prefix": topic_level,
}
_FIXED_SECTIONS: dict[str, dict[str, Converter]] = {
    "daemon": _DAEMON_KEYS,
    "api": _API_KEYS,
    "delivery": _DELIVERY_KEYS,
    "reliability": _RELIABILITY_KEYS,
    "sms_stop": _SMS_STOP_KEYS,
    "mqtt": _MQTT_KEYS,
}
# Keys an older version read: what to write instead.
_REMOVED_KEYS: dict[tuple[str, str], str] = {
    ("delivery", "status_success"): "removed: each webhook's flavor decides the word for a delivered SMS; "
    'set [webhook:NAME] flavor = documented ("success", the default) or raspisms ("delivered")',
}
MAX_STOP_REPLY = 1000  # characters, RaspiSMS's limit on a text to send
_SECTION_PATTERNS = ("webhook:NAME", "phone:ID")
_SECRET_KEYS = frozenset({"api_key", "pin", "password"})

# Every key each section accepts, for documentation checks and "did you mean".
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    **{name: tuple(keys) for name, keys in _FIXED_SECTIONS.items()},
    "webhook:NAME": tuple(_WEBHOOK_KEYS),
    "phone:ID": tuple(_PHONE_KEYS),
}


class Host(Protocol):
    """What validating a config asks of the machine it runs on (load.LocalHost is the real one)."""

    def read_head(self, path: Path, limit: int) -> bytes:
        """At most ``limit`` bytes from the start of the file; raises OSError."""
        ...

    def world_readable(self, path: Path) -> bool:
        """Whether every user may read the file (False when it cannot be looked at)."""
        ...

    def can_import(self, module: str) -> bool: ...

    def ca_file_problem(self, path: Path) -> str | None:
        """Why ``path`` cannot be a webhook's ``ca_file`` (missing, unreadable, no PEM certificate)."""
        ...


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    close = closest(word.lower(), lowered)
    return f" (did you mean {lowered[close]}?)" if close else ""


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
            convert = spec.get(key)
            removed = _REMOVED_KEYS.get((section, key))
            if removed is not None:
                self.add(section, key, removed)
                continue
            if convert is None:
                self.add(section, key, "unknown key" + _suggest(key, spec))
                continue
            try:
                values[key] = convert(raw)
            except BadValue as exc:
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


def parse_ini(text: str, *, path: Path | None = None, host: Host) -> Config:
    """Validate the INI ``text`` in full; raise ConfigError listing every problem.

    ``path`` (the file the text came from) anchors relative paths and is checked for the world-readable
    warning; it is stored in ``Config.path``. ``host`` answers for the machine (key file, permissions).
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    col = _Collector(problems)
    parser = _read_config_parser(text, col)
    if parser is None:
        raise ConfigError(problems)

    fixed: dict[str, dict[str, Any]] = {name: {} for name in _FIXED_SECTIONS}
    webhooks: list[WebhookConfig] = []
    phones: list[PhoneConfig] = []
    for section in parser.sections():
        if section in _FIXED_SECTIONS:
            fixed[section] = col.section(parser, section, _FIXED_SECTIONS[section])
        elif section.startswith("webhook:"):
            hook = _webhook(parser, section, col, host, path.parent if path is not None else None)
            if hook is not None:
                webhooks.append(hook)
        elif section.startswith("phone:"):
            phone = _phone(parser, section, col, host)
            if phone is not None:
                phones.append(phone)
        else:
            prefix, colon, rest = section.partition(":")
            if colon:
                close = closest(prefix.lower(), ["webhook", "phone"])
                hint = f" (did you mean [{close}:{rest}]?)" if close else ""
            else:
                close = closest(section.lower(), _FIXED_SECTIONS)
                hint = f" (did you mean [{close}]?)" if close else ""
            allowed = ", ".join(f"[{s}]" for s in (*_FIXED_SECTIONS, *_SECTION_PATTERNS))
            col.add(section, None, f"unknown section{hint}; sections are {allowed}")

    daemon = _daemon(fixed["daemon"], parser.has_section("daemon"), path, host, col, warnings)
    api = ApiConfig(**fixed["api"])
    sms_stop = _sms_stop(fixed["sms_stop"], api.templating, col)
    delivery = _delivery(fixed["delivery"], col)
    reliability = _reliability(fixed["reliability"], col)
    mqtt = _mqtt(fixed["mqtt"], parser.has_section("mqtt"), path, host, col, warnings)
    _check_phones_unique(phones, col)

    if problems:
        raise ConfigError(problems)
    return Config(
        daemon=daemon,
        api=api,
        delivery=delivery,
        reliability=reliability,
        sms_stop=sms_stop,
        webhooks=tuple(webhooks),
        phones=tuple(sorted(phones, key=lambda p: p.id)),
        mqtt=mqtt,
        path=path,
        warnings=tuple(warnings),
    )


def _daemon(
    values: dict[str, Any],
    present: bool,
    path: Path | None,
    host: Host,
    col: _Collector,
    warnings: list[str],
) -> DaemonConfig:
    base = path.parent if path is not None else None
    key_file_raw = values.pop("api_key_file", None)
    inline_key = values.pop("api_key", None)
    api_key = ""
    if inline_key is not None and key_file_raw is not None:
        col.add("daemon", "api_key", "give either api_key or api_key_file, not both")
    elif inline_key is not None:
        if _check_api_key(inline_key, "api_key", col):
            api_key = inline_key
            if path is not None and host.world_readable(path):
                warnings.append(
                    f"{path} holds [daemon] api_key and is readable by every user: "
                    f"chmod 640 it, or move the key to api_key_file"
                )
            if inline_key == EXAMPLE_API_KEY:
                warnings.append("[daemon] api_key is still the example key: set your own")
    elif key_file_raw is not None:
        key_file = _resolve(key_file_raw, base)
        content = _read_key_file(key_file, host, col)
        if content is not None and _check_api_key(content, "api_key_file", col):
            api_key = content
            if host.world_readable(key_file):
                warnings.append(f"{key_file} (the API key) is readable by every user: chmod 600 it")
    else:
        where = "" if present else " (section [daemon] is missing)"
        col.add("daemon", "api_key", "an API key is required: set api_key or api_key_file" + where)
    if "database" in values:
        values["database"] = _resolve(values["database"], base)
    return DaemonConfig(api_key=api_key, **values)


def _read_key_file(
    key_file: Path, host: Host, col: _Collector, where: tuple[str, str] = ("daemon", "api_key_file")
) -> str | None:
    """The key in ``key_file``, stripped; None (and a problem) when it cannot be read or is no key file."""
    try:
        # Bounded read: a key is short, and a mistaken path (/dev/zero, a log) must not hang us.
        raw = host.read_head(key_file, MAX_KEY_FILE + 1)
    except OSError as exc:
        col.add(*where, f"cannot read {key_file}: {exc.strerror or exc}")
        return None
    if len(raw) > MAX_KEY_FILE or not raw.isascii():
        message = f"{key_file} is not a key file (ASCII text, under {MAX_KEY_FILE} bytes)"
        col.add(*where, message)
        return None
    return raw.decode("ascii").strip()


def _mqtt(
    values: dict[str, Any],
    present: bool,
    path: Path | None,
    host: Host,
    col: _Collector,
    warnings: list[str],
) -> MqttConfig | None:
    if not present:
        return None
    base = path.parent if path is not None else None
    url = values.pop("url", None)
    password = values.pop("password", None)
    password_file = values.pop("password_file", None)
    if password is not None and password_file is not None:
        col.add("mqtt", "password", "give either password or password_file, not both")
    elif password is not None:
        if path is not None and host.world_readable(path):
            warnings.append(
                f"{path} holds [mqtt] password and is readable by every user: "
                "chmod 640 it, or move the password to password_file"
            )
    elif password_file is not None:
        file = _resolve(password_file, base)
        password = _read_key_file(file, host, col, ("mqtt", "password_file"))
        if password is not None and host.world_readable(file):
            warnings.append(f"{file} (the MQTT password) is readable by every user: chmod 600 it")
    if password is not None and "username" not in values:
        col.add("mqtt", "username", "missing: a password goes with a username")
    if "ca_file" in values:
        values["ca_file"] = _resolve(values["ca_file"], base)
    if url is None:
        if col.ok("mqtt", "url"):
            col.add("mqtt", "url", "missing: [mqtt] needs the broker's url (mqtt://host or mqtts://host)")
        return None
    broker, port, tls = url
    if "ca_file" in values and not tls:
        col.add("mqtt", "ca_file", "a CA is for mqtts:// URLs; this one is mqtt:// (no TLS)")
    elif "ca_file" in values and (problem := host.ca_file_problem(values["ca_file"])) is not None:
        col.add("mqtt", "ca_file", problem)
    return MqttConfig(host=broker, port=port, tls=tls, password=password, **values)


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
    return cfg._replace(**values)


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


def _sms_stop(values: dict[str, Any], templating: bool, col: _Collector) -> SmsStopConfig:
    cfg = SmsStopConfig(**values)
    if len(cfg.reply) > MAX_STOP_REPLY:
        col.add("sms_stop", "reply", f"{len(cfg.reply)} characters, at most {MAX_STOP_REPLY}")
    elif templating and cfg.reply:
        # The reply is templated like any SMS: a broken template is a config error, not a lost reply.
        from ..templating import TemplateFailure, render

        try:
            render(cfg.reply, {}, {"number": "+33612345678"})
        except TemplateFailure as exc:
            col.add("sms_stop", "reply", f"template error: {exc} (or set [api] templating = no)")
    return cfg


def _webhook(
    parser: configparser.RawConfigParser, section: str, col: _Collector, host: Host, base: Path | None
) -> WebhookConfig | None:
    name = section[len("webhook:") :]
    values = col.section(parser, section, _WEBHOOK_KEYS)
    reason = validate_webhook_name(name)
    if reason is not None:
        col.add(section, None, f"{reason} ([webhook:inbox])")
        return None
    if "ca_file" in values:
        values["ca_file"] = _resolve(values["ca_file"], base)
    hook = WebhookConfig(name=name, **{"url": "", **values})
    https = hook.url.lower().startswith("https://")
    if hook.ca_file is not None and not hook.verify:
        col.add(section, "verify", "give either ca_file or verify = no, not both")
    elif hook.ca_file is not None:
        if "url" in values and not https:
            col.add(section, "ca_file", "is for https:// URLs only (this url is http://)")
        else:
            problem = host.ca_file_problem(hook.ca_file)
            if problem is not None:
                col.add(section, "ca_file", problem)
    elif not hook.verify and "url" in values and not https:
        col.add(section, "verify", "verify = no is for https:// URLs only (this url is http://)")
    if "url" not in values:
        if not parser.has_option(section, "url"):
            col.add(section, "url", "missing: every webhook needs a url")
        return None
    return hook


def _phone(
    parser: configparser.RawConfigParser, section: str, col: _Collector, host: Host
) -> PhoneConfig | None:
    raw_id = section[len("phone:") :]
    values = col.section(parser, section, _PHONE_KEYS)
    # isdecimal, not isdigit: int() refuses digits such as "²".
    if not raw_id.isdecimal() or int(raw_id) < 1 or str(int(raw_id)) != raw_id:
        col.add(section, None, f"the phone id must be a positive integer ([phone:1]), not {raw_id!r}")
        return None
    phone = PhoneConfig(id=int(raw_id), **values)
    if not (phone.device or phone.imei or phone.iccid):
        col.add(section, "device", "missing: set device (e.g. /dev/serial/by-id/…), or imei/iccid to match")
    if phone.backend == "gammu" and not host.can_import("gammu"):
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
