"""Config parsing: every problem collected with its section and key, defaults documented in the example."""

from __future__ import annotations

import configparser
import dataclasses
import os
import re
import sys
from pathlib import Path

import pytest

from raspisms_daemon.config import (
    DEFAULT_SCHEDULE,
    KNOWN_KEYS,
    ApiConfig,
    Config,
    DaemonConfig,
    DeliveryConfig,
    PhoneConfig,
    ReliabilityConfig,
    ReliabilityRule,
    WebhookConfig,
    load_config,
    load_config_or_exit,
    parse_config,
    parse_duration,
    validate_listen,
    validate_webhook_url,
)
from raspisms_daemon.errors import ConfigError, Problem
from raspisms_daemon.webhooks.events import WEBHOOK_TYPES

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.ini"
KEY = "k3y-0123456789abcdef-secret"
BASE = f"[daemon]\napi_key = {KEY}\n"


def problems(text: str, *, path: Path | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, path=path)
    assert info.value.problems, "a ConfigError must carry at least one problem"
    return info.value.problems


def where(text: str) -> set[tuple[str, str | None]]:
    return {(p.section, p.key) for p in problems(text)}


def one(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# --- the minimal config and the defaults ----------------------------------------------------------


def test_minimal_config_is_only_an_api_key_and_gives_the_dataclass_defaults() -> None:
    config = parse_config(BASE)
    assert config.daemon == DaemonConfig(api_key=KEY)
    assert config.api == ApiConfig()
    assert config.delivery == DeliveryConfig()
    assert config.reliability == ReliabilityConfig()
    assert config.webhooks == () and config.phones == () and config.warnings == () and config.path is None


def test_full_config_values_land_in_the_dataclasses(tmp_path: Path) -> None:
    text = f"""
[daemon]
api_key = {KEY}
database = data/db.sqlite3
user_id = 3
log_level = DEBUG
multipart_timeout = 2h
[api]
enabled = off
listen = [::1]:0
[delivery]
timeout = 1m
connect_timeout = 250ms
schedule = 0, 1s, 2m
jitter = 0
concurrency = 4
per_webhook_concurrency = 4
retention = 1d
status_success = success
[reliability]
interval = 30s
auto_disable = true
failed_enabled = 0
failed_rate = 50.5
failed_volume = 3
failed_period = 2h
failed_grace = 0
unknown_enabled = 1
unknown_rate = 100
unknown_volume = 1
unknown_period = 10
unknown_grace = 9.5
[webhook:inbox]
url = https://example.org/hook?token=a%20b
types = receive_sms, inbound_call
format = json
enabled = no
[webhook:all.of-them_2]
url = http://127.0.0.1:9000/
[phone:2]
name = sim800
backend = at
device = /dev/ttyS1
imei = 356938035643809
iccid = 8933150319080145678F
pin = 0000
baudrate = 9600
delivery_reports = no
hangup_calls = 2
send_rate = 0.5
sweep_interval = 5m
liveness_interval = 10s
enabled = yes
gammu_connection = at19200
gammu_model = foo
poll_interval = 1
[phone:1]
imei = 356938035643817
"""
    path = tmp_path / "config.ini"
    config = parse_config(text, path=path)
    assert config.path == path
    assert config.daemon == DaemonConfig(
        database=tmp_path / "data/db.sqlite3",
        api_key=KEY,
        user_id=3,
        log_level="debug",
        multipart_timeout=7200.0,
    )
    assert config.api == ApiConfig(enabled=False, listen="[::1]:0")
    assert config.delivery == DeliveryConfig(
        timeout=60.0,
        connect_timeout=0.25,
        schedule=(0.0, 1.0, 120.0),
        jitter=0.0,
        concurrency=4,
        per_webhook_concurrency=4,
        retention=86400.0,
        status_success="success",
    )
    assert config.reliability == ReliabilityConfig(
        interval=30.0,
        failed=ReliabilityRule(False, 50.5, 3, 120.0, 0.0),
        unknown=ReliabilityRule(True, 100.0, 1, 10.0, 9.5),
        auto_disable=True,
    )
    assert config.webhooks == (
        WebhookConfig(
            "inbox",
            "https://example.org/hook?token=a%20b",
            frozenset({"receive_sms", "inbound_call"}),
            "json",
            False,
        ),
        WebhookConfig("all.of-them_2", "http://127.0.0.1:9000/"),
    )
    assert config.phones == (
        PhoneConfig(id=1, imei="356938035643817"),
        PhoneConfig(
            id=2,
            name="sim800",
            backend="at",
            device="/dev/ttyS1",
            imei="356938035643809",
            iccid="8933150319080145678F",
            pin="0000",
            baudrate=9600,
            delivery_reports=False,
            hangup_calls=2,
            send_rate=0.5,
            sweep_interval=300.0,
            liveness_interval=10.0,
            enabled=True,
            gammu_connection="at19200",
            gammu_model="foo",
            poll_interval=1.0,
        ),
    )


# --- the example file -----------------------------------------------------------------------------


def test_example_config_parses_and_states_the_true_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config.daemon == DaemonConfig(api_key=config.daemon.api_key)
    assert config.api == ApiConfig()
    assert config.delivery == DeliveryConfig()
    assert config.delivery.schedule == DEFAULT_SCHEDULE
    assert config.reliability == ReliabilityConfig()
    assert any("example key" in w for w in config.warnings)


def _example_sections() -> dict[str, set[str]]:
    """Keys documented per section, counting the commented-out example sections."""
    sections: dict[str, set[str]] = {}
    current = ""
    for line in EXAMPLE.read_text().splitlines():
        text = line.lstrip(";#").strip() if line.startswith((";[", "#[", ";", "#")) else line.strip()
        head = re.fullmatch(r"\[([^\]]+)\]", text)
        if head:
            current = head.group(1)
            sections.setdefault(current, set())
            continue
        kv = re.fullmatch(r"([a-z_]+) =.*", text)
        if kv and current:
            sections[current].add(kv.group(1))
    return sections


def test_example_documents_every_key_and_every_dataclass_field() -> None:
    doc = _example_sections()
    assert set(doc) == {"daemon", "api", "delivery", "reliability", "webhook:inbox", "phone:1"}
    doc["webhook:NAME"] = doc.pop("webhook:inbox")
    doc["phone:ID"] = doc.pop("phone:1")
    for section, keys in KNOWN_KEYS.items():
        assert doc[section] == set(keys), section
    # Every field of every dataclass is reachable from a documented key (or the section name).
    fields = {f.name for f in dataclasses.fields(DaemonConfig)}
    assert fields <= doc["daemon"]
    assert {f.name for f in dataclasses.fields(ApiConfig)} <= doc["api"]
    assert {f.name for f in dataclasses.fields(DeliveryConfig)} <= doc["delivery"]
    assert {f.name for f in dataclasses.fields(WebhookConfig)} - {"name"} <= doc["webhook:NAME"]
    assert {f.name for f in dataclasses.fields(PhoneConfig)} - {"id"} <= doc["phone:ID"]
    rule_keys = {
        "enabled": "enabled",
        "rate_limit": "rate",
        "volume": "volume",
        "period": "period",
        "grace": "grace",
    }
    assert set(rule_keys) == {f.name for f in dataclasses.fields(ReliabilityRule)}
    for f in dataclasses.fields(ReliabilityConfig):
        if f.name in ("failed", "unknown"):
            assert {f"{f.name}_{k}" for k in rule_keys.values()} <= doc["reliability"]
        else:
            assert f.name in doc["reliability"]
    assert {f.name for f in dataclasses.fields(Config)} == {
        "daemon",
        "api",
        "delivery",
        "reliability",
        "webhooks",
        "phones",
        "path",
        "warnings",
    }


def test_example_commented_sections_are_valid_once_uncommented(tmp_path: Path) -> None:
    lines = []
    in_examples = False
    for line in EXAMPLE.read_text().splitlines():
        # Uncomment the example sections' keys and headers only (prose and alternatives stay comments).
        in_examples = in_examples or line.startswith(";[")
        if in_examples and re.match(r"^;(\[|[a-z_]+ =)", line):
            line = line[1:]
        lines.append(line)
    config = parse_config("\n".join(lines), path=tmp_path / "c.ini")
    assert [w.name for w in config.webhooks] == ["inbox"]
    assert config.webhooks[0].types == frozenset(WEBHOOK_TYPES)
    assert [(p.id, p.device, p.pin) for p in config.phones] == [
        (1, "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0", "1234")
    ]


# --- value types ----------------------------------------------------------------------------------


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
def test_durations(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "s", "5 minutes", "-5s", "1h30m", "5w", "nan", "inf"])
def test_bad_durations_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("yes", True),
        ("No", False),
        ("TRUE", True),
        ("false", False),
        ("on", True),
        ("off", False),
        ("1", True),
        ("0", False),
    ],
)
def test_booleans(raw: str, value: bool) -> None:
    assert parse_config(BASE + f"[api]\nenabled = {raw}\n").api.enabled is value


def test_wrong_types_name_section_key_and_value() -> None:
    found = problems(
        BASE + "user_id = one\n[api]\nenabled = maybe\n[delivery]\njitter = lots\ntimeout = soon\n"
    )
    by_key = {(p.section, p.key): p.message for p in found}
    assert by_key == {
        ("daemon", "user_id"): "'one' is not an integer",
        ("api", "enabled"): "'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)",
        ("delivery", "jitter"): "'lots' is not a number",
        ("delivery", "timeout"): "'soon' is not a duration (e.g. 30, 30s, 5m, 2h, 7d)",
    }


@pytest.mark.parametrize(
    ("section", "key", "raw", "fragment"),
    [
        ("delivery", "jitter", "1.5", "between 0 and 1"),
        ("delivery", "jitter", "-0.1", "between 0 and 1"),
        ("delivery", "concurrency", "0", "between 1 and"),
        ("delivery", "per_webhook_concurrency", "0", "between 1 and"),
        ("delivery", "timeout", "0", "longer than 0"),
        ("daemon", "user_id", "0", "at least 1"),
        ("daemon", "multipart_timeout", "0s", "longer than 0"),
        ("reliability", "failed_rate", "100.1", "between 0 and 100"),
        ("reliability", "unknown_rate", "-1", "between 0 and 100"),
        ("reliability", "failed_volume", "0", "at least 1"),
        ("reliability", "interval", "0", "longer than 0"),
        ("reliability", "failed_period", "0", "longer than 0"),
        ("reliability", "unknown_grace", "120", "not shorter than unknown_period"),
    ],
)
def test_ranges(section: str, key: str, raw: str, fragment: str) -> None:
    text = BASE.replace("[daemon]\n", "[daemon]\n" + (f"{key} = {raw}\n" if section == "daemon" else ""))
    if section != "daemon":
        text += f"[{section}]\n{key} = {raw}\n"
    problem = one(text)
    assert (problem.section, problem.key) == (section, key)
    assert fragment in problem.message


def test_connect_timeout_longer_than_timeout_is_an_error_but_not_when_one_is_already_bad() -> None:
    problem = one(BASE + "[delivery]\ntimeout = 3s\nconnect_timeout = 5s\n")
    assert (problem.section, problem.key) == ("delivery", "connect_timeout")
    assert "longer than timeout" in problem.message
    problem = one(BASE + "[delivery]\ntimeout = 3s\nconnect_timeout = 5x\n")
    assert "not a duration" in problem.message


def test_per_webhook_concurrency_above_concurrency_is_an_error() -> None:
    problem = one(BASE + "[delivery]\nconcurrency = 2\nper_webhook_concurrency = 3\n")
    assert problem.key == "per_webhook_concurrency" and "more than concurrency (2)" in problem.message


def test_schedule_lists() -> None:
    config = parse_config(BASE + "[delivery]\nschedule = 0,\n  10s,\n  1h\n")
    assert config.delivery.schedule == (0.0, 10.0, 3600.0)
    assert "empty item" in one(BASE + "[delivery]\nschedule = 0, ,5s\n").message
    assert "at least one delay" in one(BASE + "[delivery]\nschedule =\n").message
    assert "not a duration" in one(BASE + "[delivery]\nschedule = 0, 5 parsecs\n").message


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [("log_level", "loud", "debug, info, warning, error")],
)
def test_enumerations_daemon(key: str, raw: str, fragment: str) -> None:
    assert fragment in one(BASE + f"{key} = {raw}\n").message


def test_enumerations_format_and_backend() -> None:
    found = problems(
        BASE + "[webhook:a]\nurl = http://h/\nformat = xml\n[phone:1]\ndevice = /d\nbackend = serial\n"
    )
    assert {(p.section, p.key, p.message) for p in found} == {
        ("webhook:a", "format", "'xml' is not one of: form, json"),
        ("phone:1", "backend", "'serial' is not one of: at, gammu"),
    }


# --- structure ------------------------------------------------------------------------------------


def test_unknown_sections_and_keys_with_did_you_mean() -> None:
    found = problems(
        BASE + "log_levl = info\nAPI_KEY = x\n[deamon]\n[webhooks:inbox]\nurl = http://h/\n[phones:1]\n"
        "[frobnicate]\n[webhook:a]\nurl = http://h/\nformats = json\n[phone:1]\ndevise = /dev/x\n"
    )
    messages = {(p.section, p.key): p.message for p in found}
    assert messages[("daemon", "log_levl")] == "unknown key (did you mean log_level?)"
    assert messages[("daemon", "API_KEY")] == "unknown key (did you mean api_key?)"
    assert messages[("deamon", None)].startswith("unknown section (did you mean [daemon]?)")
    assert messages[("webhooks:inbox", None)].startswith("unknown section (did you mean [webhook:inbox]?)")
    assert messages[("phones:1", None)].startswith("unknown section (did you mean [phone:1]?)")
    assert messages[("frobnicate", None)].startswith("unknown section; sections are [daemon], [api]")
    assert messages[("webhook:a", "formats")] == "unknown key (did you mean format?)"
    assert messages[("phone:1", "devise")] == "unknown key (did you mean device?)"
    assert ("phone:1", "device") in messages  # and the phone still lacks a device


def test_all_problems_are_collected_not_just_the_first() -> None:
    found = problems(
        "[daemon]\nuser_id = x\n[api]\nlisten = nowhere\n[delivery]\njitter = 9\n"
        "[webhook:a]\nurl = ftp://h/\n[phone:x]\n"
    )
    assert {(p.section, p.key) for p in found} == {
        ("daemon", "user_id"),
        ("daemon", "api_key"),
        ("api", "listen"),
        ("delivery", "jitter"),
        ("webhook:a", "url"),
        ("phone:x", None),
    }


def test_duplicate_key_is_an_error_and_other_problems_are_still_reported() -> None:
    found = problems(BASE + "[api]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n[delivery]\njitter = 5\n")
    assert ("api", "listen") in {(p.section, p.key) for p in found}
    assert any("given twice" in p.message for p in found)
    assert ("delivery", "jitter") in {(p.section, p.key) for p in found}


def test_duplicate_section_is_an_error() -> None:
    problem = problems(BASE + "[api]\n[api]\n")[0]
    assert problem.section == "api" and "section given twice" in problem.message


def test_keys_are_case_sensitive_and_there_is_no_default_section() -> None:
    found = where(BASE + "Log_Level = info\n[DEFAULT]\nlog_level = info\n")
    assert found == {("daemon", "Log_Level"), ("DEFAULT", None)}


def test_syntax_errors_give_line_numbers() -> None:
    problem = one("api_key = x\n[daemon]\n")
    assert problem.section == "file" and "line 1" in problem.message
    problem = one(BASE + "this is not a key\n")
    assert problem.section == "file" and "line 3" in problem.message


def test_interpolation_is_off_and_inline_comments_need_a_space() -> None:
    config = parse_config(BASE + "[webhook:a]\nurl = http://h/%(x)s#frag ; comment\n")
    assert config.webhooks[0].url == "http://h/%(x)s#frag"


# --- the API key ----------------------------------------------------------------------------------


def test_api_key_is_required() -> None:
    problem = one("[api]\nenabled = yes\n")
    assert (problem.section, problem.key) == ("daemon", "api_key")
    assert "required" in problem.message and "[daemon] is missing" in problem.message
    assert "required" in one("[daemon]\nuser_id = 1\n").message


def test_api_key_and_api_key_file_together_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY)
    problem = one(BASE + f"api_key_file = {tmp_path / 'key'}\n")
    assert "either api_key or api_key_file, not both" in problem.message


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "empty"),
        ("0123456789abcde", "too short: at least 16"),
        ("0123456789 abcdef01", "printable ASCII"),
        ("0123456789abcdéf01", "printable ASCII"),
    ],
)
def test_bad_api_keys_are_refused_without_echoing_them(key: str, fragment: str) -> None:
    problem = one(f"[daemon]\napi_key = {key}\n")
    assert problem.key == "api_key" and fragment in problem.message
    if key:
        assert key not in str(problem) and key[:8] not in str(problem)


def test_api_key_file_is_read_stripped_and_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    keyfile = tmp_path / "secret" / "key"
    keyfile.write_text(f"\n  {KEY}  \n")
    keyfile.chmod(0o600)
    config = parse_config("[daemon]\napi_key_file = secret/key\n", path=tmp_path / "config.ini")
    assert config.daemon.api_key == KEY
    assert config.warnings == ()


def test_api_key_file_problems(tmp_path: Path) -> None:
    missing = one(f"[daemon]\napi_key_file = {tmp_path / 'nope'}\n")
    assert (
        missing.key == "api_key_file"
        and "cannot read" in missing.message
        and "No such file" in missing.message
    )
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    assert "empty" in one(f"[daemon]\napi_key_file = {empty}\n").message
    short = tmp_path / "short"
    short.write_text("abc-secret")
    problem = one(f"[daemon]\napi_key_file = {short}\n")
    assert "too short" in problem.message and "abc-secret" not in str(problem)
    assert "cannot read" in one(f"[daemon]\napi_key_file = {tmp_path}\n").message  # a directory


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_api_key_file(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY)
    keyfile.chmod(0)
    assert "Permission denied" in one(f"[daemon]\napi_key_file = {keyfile}\n").message


def test_world_readable_config_holding_the_key_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(BASE)
    path.chmod(0o644)
    config = load_config(path)
    assert len(config.warnings) == 1 and "readable by every user" in config.warnings[0]
    assert KEY not in config.warnings[0]
    path.chmod(0o640)
    assert load_config(path).warnings == ()


def test_world_readable_key_file_is_a_warning(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY)
    keyfile.chmod(0o644)
    path = tmp_path / "config.ini"
    path.write_text(f"[daemon]\napi_key_file = {keyfile}\n")
    path.chmod(0o644)  # holds no key: no warning about it
    (warning,) = load_config(path).warnings
    assert str(keyfile) in warning and "chmod 600" in warning


def test_secrets_never_appear_in_any_problem() -> None:
    text = (
        f"[daemon]\napi_key = {KEY}\napi_keys = {KEY}\n[phone:1]\ndevice = /d\npin = 12ab\n[phone:2]\n"
        f"device = /e\npin = 123456789\n"
    )
    found = problems(text)
    assert len(found) == 3
    for problem in found:
        assert KEY not in str(problem) and "12ab" not in str(problem) and "123456789" not in str(problem)


# --- webhooks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.org/x", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("example.org/hook", "no scheme"),
        ("//example.org/hook", "no scheme"),
        ("http:///path", "no host"),
        ("https://", "no host"),
        ("http://exa mple.org/", "whitespace"),
        ("http://h:99999/", "malformed"),
        ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
    ],
)
def test_webhook_url_must_be_http_or_https_with_a_host(url: str, fragment: str) -> None:
    problem = one(BASE + f"[webhook:a]\nurl = {url}\n")
    assert (problem.section, problem.key) == ("webhook:a", "url")
    assert fragment in problem.message
    assert validate_webhook_url(url) == problem.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "HTTPS://Example.org", "http://[::1]:9/a?b=c#d"])
def test_good_webhook_urls(url: str) -> None:
    assert validate_webhook_url(url) is None


def test_webhook_url_is_required_and_never_echoed() -> None:
    assert one(BASE + "[webhook:a]\ntypes = all\n").message == "missing: every webhook needs a url"
    problem = one(BASE + "[webhook:a]\nurl = gopher://h/s3cr3t-token\n")
    assert "s3cr3t-token" not in str(problem)


def test_webhook_types() -> None:
    config = parse_config(
        BASE + "[webhook:a]\nurl = http://h/\ntypes = ALL\n[webhook:b]\nurl = http://h/\n"
        "types = send_sms , send_sms_status_change\n"
    )
    assert config.webhooks[0].types == frozenset(WEBHOOK_TYPES)
    assert config.webhooks[1].types == frozenset({"send_sms", "send_sms_status_change"})
    problem = one(BASE + "[webhook:a]\nurl = http://h/\ntypes = receive_sms, recieve_sms\n")
    assert problem.key == "types" and "'recieve_sms' (did you mean receive_sms?)" in problem.message
    assert "'all' or" in one(BASE + "[webhook:a]\nurl = http://h/\ntypes =\n").message


def test_webhook_names() -> None:
    assert "webhook name" in one(BASE + "[webhook:]\nurl = http://h/\n").message
    assert "webhook name" in one(BASE + "[webhook:a b]\nurl = http://h/\n").message


# --- phones -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pid", ["0", "-1", "abc", "01", "1.5", "", "²"])
def test_phone_id_must_be_a_positive_integer(pid: str) -> None:
    problem = one(BASE + f"[phone:{pid}]\ndevice = /dev/x\n")
    assert problem.section == f"phone:{pid}" and "positive integer" in problem.message


def test_phone_needs_a_device_or_an_identity() -> None:
    problem = one(BASE + "[phone:1]\nname = x\n")
    assert (problem.section, problem.key) == ("phone:1", "device")
    parse_config(BASE + "[phone:1]\niccid = 89331503190801456789\n")


def test_phone_device_imei_iccid_are_unique() -> None:
    found = where(
        BASE + "[phone:1]\ndevice = /dev/a\nimei = 356938035643809\niccid = 8933150319080145678\n"
        "[phone:2]\ndevice = /dev/a\nimei = 356938035643809\niccid = 8933150319080145678\n"
    )
    assert found == {("phone:2", "device"), ("phone:2", "imei"), ("phone:2", "iccid")}


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [
        ("imei", "12345", "not an IMEI"),
        ("imei", "35693803564380A", "not an IMEI"),
        ("iccid", "1234", "not an ICCID"),
        ("pin", "12", "4 to 8 digits"),
        ("baudrate", "0", "between 300 and 4000000"),
        ("hangup_calls", "-1", "between 0 and 100"),
        ("send_rate", "0", "greater than 0"),
        ("poll_interval", "0", "longer than 0"),
        ("gammu_connection", "", "must not be empty"),
    ],
)
def test_phone_values(key: str, raw: str, fragment: str) -> None:
    problem = one(BASE + f"[phone:1]\ndevice = /dev/x\n{key} = {raw}\n")
    assert problem.key == key and fragment in problem.message


GAMMU_PHONE = BASE + "[phone:1]\nbackend = gammu\ndevice = /dev/x\n"


def test_gammu_backend_is_accepted_where_python_gammu_is_installed() -> None:
    pytest.importorskip("gammu", reason="python-gammu (apt: python3-gammu) is not installed")
    assert parse_config(GAMMU_PHONE).phones[0].backend == "gammu"


def test_gammu_backend_needs_python_gammu(monkeypatch: pytest.MonkeyPatch) -> None:
    text = GAMMU_PHONE
    monkeypatch.setitem(sys.modules, "gammu", None)  # how Python spells "this module cannot be imported"
    problem = one(text)
    assert (problem.section, problem.key) == ("phone:1", "backend")
    assert problem.message == "backend = gammu needs python-gammu (pip install raspisms-daemon[gammu])"


# --- [api] listen -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listen",
    ["127.0.0.1:8642", "localhost:1", "[::1]:8642", "[::]:0", "0.0.0.0:65535", "unix:/run/x/api.sock"],
)
def test_good_listen_addresses(listen: str) -> None:
    assert validate_listen(listen) is None
    assert parse_config(BASE + f"[api]\nlisten = {listen}\n").api.listen == listen


@pytest.mark.parametrize(
    ("listen", "fragment"),
    [
        ("8642", "not HOST:PORT"),
        (":8642", "not HOST:PORT"),
        ("::1:8642", "needs brackets"),
        ("[::1]8642", "not [IPV6]:PORT"),
        ("[nope]:1", "not an IPv6 address"),
        ("h:65536", "between 0 and 65535"),
        ("h:http", "between 0 and 65535"),
        ("h:²", "between 0 and 65535"),
        ("unix:relative.sock", "absolute path"),
        ("bad host:1", "host name"),
    ],
)
def test_bad_listen_addresses(listen: str, fragment: str) -> None:
    problem = one(BASE + f"[api]\nlisten = {listen}\n")
    assert (problem.section, problem.key) == ("api", "listen") and fragment in problem.message


# --- loading ----------------------------------------------------------------------------------------


def test_load_config_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.ini")
    (problem,) = info.value.problems
    assert problem.section == str(tmp_path / "missing.ini") and "cannot read" in problem.message
    with pytest.raises(ConfigError):
        load_config(tmp_path)  # a directory
    binary = tmp_path / "bin.ini"
    binary.write_bytes(b"\xff\xfe[daemon]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_load_config_or_exit_prints_problems_and_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.ini"
    path.write_text("[daemon]\napi_key = short\n[api]\nlisten = x\n")
    with pytest.raises(SystemExit) as info:
        load_config_or_exit(path)
    assert info.value.code == 78
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == [
        "config error: [api] listen: 'x' is not HOST:PORT, [IPV6]:PORT or unix:/path",
        "config error: [daemon] api_key: the API key is too short: at least 16 characters",
    ]
    path.write_text(BASE)
    assert load_config_or_exit(path).daemon.api_key == KEY


def test_parse_config_never_raises_anything_but_config_error() -> None:
    # A handful of hostile inputs: configparser's own exceptions must not leak.
    for text in [
        "[",
        "[daemon",
        "\x00",
        "[daemon]\n  indented = continuation\n",
        "= x\n",
        "[a]\n[a]\nk=1\nk=2\n",
    ]:
        try:
            parse_config(text)
        except ConfigError:
            pass
        except configparser.Error as exc:  # pragma: no cover - the failure this test is for
            pytest.fail(f"configparser error leaked for {text!r}: {exc!r}")


def test_api_key_file_that_is_not_a_key_file(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * 5000)
    problem = one(f"[daemon]\napi_key_file = {big}\n")
    assert problem.key == "api_key_file" and "is not a key file" in problem.message
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff" * 20)
    assert "is not a key file" in one(f"[daemon]\napi_key_file = {binary}\n").message
    assert "is not a key file" in one("[daemon]\napi_key_file = /dev/zero\n").message
