"""INI text → Config: every problem collected with its section and key; the machine only through a Host."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from raspisms_daemon.config import (
    ApiConfig,
    DaemonConfig,
    DeliveryConfig,
    PhoneConfig,
    ReliabilityConfig,
    ReliabilityRule,
    SmsStopConfig,
    WebhookConfig,
    validate_listen,
    validate_webhook_url,
)
from raspisms_daemon.errors import ConfigError
from raspisms_daemon.webhooks.events import WEBHOOK_TYPES

from ._support import BASE, KEY, FakeHost, one, parse, problems, where

# --- the minimal config and the defaults ----------------------------------------------------------


def test_minimal_config_is_only_an_api_key_and_gives_the_dataclass_defaults() -> None:
    config = parse(BASE)
    assert config.daemon == DaemonConfig(api_key=KEY)
    assert config.api == ApiConfig()
    assert config.delivery == DeliveryConfig()
    assert config.reliability == ReliabilityConfig()
    assert config.sms_stop == SmsStopConfig(enabled=True, reply="")
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
templating = no
[delivery]
timeout = 1m
connect_timeout = 250ms
schedule = 0, 1s, 2m
jitter = 0
concurrency = 4
per_webhook_concurrency = 4
retention = 1d
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
flavor = raspisms
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
group = 3
priority = 5
[phone:1]
imei = 356938035643817
[sms_stop]
enabled = no
reply = Bien reçu, {{{{ contact_metas.number }}}} : plus de SMS.
"""
    path = tmp_path / "config.ini"
    config = parse(text, path=path)
    assert config.path == path
    assert config.daemon == DaemonConfig(
        database=tmp_path / "data/db.sqlite3",
        api_key=KEY,
        user_id=3,
        log_level="debug",
        multipart_timeout=7200.0,
    )
    assert config.api == ApiConfig(enabled=False, listen="[::1]:0", templating=False)
    assert config.sms_stop == SmsStopConfig(
        enabled=False, reply="Bien reçu, {{ contact_metas.number }} : plus de SMS."
    )
    assert config.delivery == DeliveryConfig(
        timeout=60.0,
        connect_timeout=0.25,
        schedule=(0.0, 1.0, 120.0),
        jitter=0.0,
        concurrency=4,
        per_webhook_concurrency=4,
        retention=86400.0,
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
            "raspisms",
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
            group=3,
            priority=5,
        ),
    )


# --- value types ----------------------------------------------------------------------------------


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
def test_booleans_are_yes_no_true_false_on_off_1_0_in_any_case(raw: str, value: bool) -> None:
    assert parse(BASE + f"[api]\nenabled = {raw}\n").api.enabled is value


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
def test_out_of_range_values_are_reported_with_their_bounds(
    section: str, key: str, raw: str, fragment: str
) -> None:
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


def test_schedule_is_a_list_of_durations_split_by_commas_or_lines() -> None:
    config = parse(BASE + "[delivery]\nschedule = 0,\n  10s,\n  1h\n")
    assert config.delivery.schedule == (0.0, 10.0, 3600.0)
    assert "empty item" in one(BASE + "[delivery]\nschedule = 0, ,5s\n").message
    assert "at least one delay" in one(BASE + "[delivery]\nschedule =\n").message
    assert "not a duration" in one(BASE + "[delivery]\nschedule = 0, 5 parsecs\n").message


def test_reliability_periods_are_minutes_or_durations() -> None:
    config = parse(BASE + "[reliability]\nfailed_period = 90\nfailed_grace = 30s\n")
    assert (config.reliability.failed.period, config.reliability.failed.grace) == (90.0, 0.5)
    problem = one(BASE + "[reliability]\nunknown_period = soon\n")
    assert problem.message == "'soon' is not a number of minutes (e.g. 120, or 2h)"


def test_log_level_is_one_of_the_four_levels() -> None:
    assert "debug, info, warning, error" in one(BASE + "log_level = loud\n").message


def test_webhook_format_and_phone_backend_are_one_of_their_choices() -> None:
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
    config = parse(BASE + "[webhook:a]\nurl = http://h/%(x)s#frag ; comment\n")
    assert config.webhooks[0].url == "http://h/%(x)s#frag"


def test_parsing_never_raises_anything_but_config_error() -> None:
    # A handful of hostile inputs: configparser's own exceptions must not leak.
    for text in [
        "[",
        "[daemon",
        "\x00",
        "[daemon]\n  indented = continuation\n",
        "= x\n",
        "[a]\n[a]\nk=1\nk=2\n",
        BASE + "[phone:²]\ndevice = /d\n",
        BASE + "[api]\nlisten = h:²\n",
    ]:
        try:
            parse(text)
        except ConfigError:
            pass
        except (configparser.Error, ValueError) as exc:  # pragma: no cover - the failure this test is for
            pytest.fail(f"exception leaked for {text!r}: {exc!r}")


# --- the API key ----------------------------------------------------------------------------------


def test_api_key_is_required() -> None:
    problem = one("[api]\nenabled = yes\n")
    assert (problem.section, problem.key) == ("daemon", "api_key")
    assert "required" in problem.message and "[daemon] is missing" in problem.message
    assert "required" in one("[daemon]\nuser_id = 1\n").message


def test_api_key_and_api_key_file_together_is_an_error() -> None:
    host = FakeHost(files={Path("/etc/key"): KEY.encode()})
    problem = one(BASE + "api_key_file = /etc/key\n", host=host)
    assert "either api_key or api_key_file, not both" in problem.message
    assert host.reads == []


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


def test_the_example_api_key_is_a_warning() -> None:
    config = parse("[daemon]\napi_key = change-me-0123456789abcdef0123456789\n")
    assert config.warnings == ("[daemon] api_key is still the example key: set your own",)


def test_api_key_file_is_read_through_the_host_stripped_and_relative_to_the_config() -> None:
    host = FakeHost(files={Path("/etc/rd/secret/key"): f"\n  {KEY}  \n".encode()})
    config = parse("[daemon]\napi_key_file = secret/key\n", path=Path("/etc/rd/config.ini"), host=host)
    assert config.daemon.api_key == KEY and config.warnings == ()
    assert host.reads == [Path("/etc/rd/secret/key")]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read /k: No such file or directory"),
        (b"a" * 4097, "/k is not a key file (ASCII text, under 4096 bytes)"),
        (b"\xff" * 20, "/k is not a key file (ASCII text, under 4096 bytes)"),
        (b"  \n", "the API key is empty"),
        (b"abc-secret", "the API key is too short"),
    ],
)
def test_api_key_file_that_cannot_give_a_key_is_reported_on_api_key_file(
    content: bytes | None, fragment: str
) -> None:
    host = FakeHost(files={} if content is None else {Path("/k"): content})
    problem = one("[daemon]\napi_key_file = /k\n", host=host)
    assert (problem.section, problem.key) == ("daemon", "api_key_file") and fragment in problem.message
    assert "abc-secret" not in str(problem)


def test_world_readable_config_holding_the_key_or_key_file_is_a_warning() -> None:
    path, keyfile = Path("/etc/rd/config.ini"), Path("/etc/rd/key")
    host = FakeHost(files={keyfile: KEY.encode()}, readable_by_all={path, keyfile})
    (warning,) = parse(BASE, path=path, host=host).warnings
    assert warning.startswith("/etc/rd/config.ini holds [daemon] api_key and is readable by every user")
    assert KEY not in warning
    (warning,) = parse("[daemon]\napi_key_file = key\n", path=path, host=host).warnings
    assert warning == "/etc/rd/key (the API key) is readable by every user: chmod 600 it"


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


def test_webhook_url_is_required_and_never_echoed() -> None:
    assert one(BASE + "[webhook:a]\ntypes = all\n").message == "missing: every webhook needs a url"
    problem = one(BASE + "[webhook:a]\nurl = gopher://h/s3cr3t-token\n")
    assert "s3cr3t-token" not in str(problem)


def test_webhook_types_are_all_or_a_list_with_did_you_mean() -> None:
    config = parse(
        BASE + "[webhook:a]\nurl = http://h/\ntypes = ALL\n[webhook:b]\nurl = http://h/\n"
        "types = send_sms , send_sms_status_change\n"
    )
    assert config.webhooks[0].types == frozenset(WEBHOOK_TYPES)
    assert config.webhooks[1].types == frozenset({"send_sms", "send_sms_status_change"})
    problem = one(BASE + "[webhook:a]\nurl = http://h/\ntypes = receive_sms, recieve_sms\n")
    assert problem.key == "types" and "'recieve_sms' (did you mean receive_sms?)" in problem.message
    assert "'all' or" in one(BASE + "[webhook:a]\nurl = http://h/\ntypes =\n").message


def test_a_bad_webhook_name_is_reported_on_its_section() -> None:
    assert "webhook name" in one(BASE + "[webhook:]\nurl = http://h/\n").message
    assert "webhook name" in one(BASE + "[webhook:a b]\nurl = http://h/\n").message


PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"  # FakeHost checks the header only


def test_ca_file_is_relative_to_the_config_and_checked_on_the_host() -> None:
    host = FakeHost(files={Path("/etc/rd/ca/receiver.pem"): PEM, Path("/abs/ca.pem"): PEM})
    config = parse(
        BASE + "[webhook:a]\nurl = https://h/\nca_file = ca/receiver.pem\n"
        "[webhook:b]\nurl = https://h/\nca_file = /abs/ca.pem\n[webhook:c]\nurl = https://h/\n",
        path=Path("/etc/rd/config.ini"),
        host=host,
    )
    assert [(w.name, w.ca_file, w.verify) for w in config.webhooks] == [
        ("a", Path("/etc/rd/ca/receiver.pem"), True),
        ("b", Path("/abs/ca.pem"), True),
        ("c", None, True),
    ]
    assert host.reads == [Path("/etc/rd/ca/receiver.pem"), Path("/abs/ca.pem")]


@pytest.mark.parametrize(
    ("keys", "files", "key", "message"),
    [
        ("url = https://h/\nca_file = /none.pem\n", {}, "ca_file", "cannot read /none.pem: No such file"),
        ("url = https://h/\nca_file = /k.pem\n", {Path("/k.pem"): b"key"}, "ca_file",
         "holds no certificate OpenSSL can read"),
        ("url = http://h/\nca_file = /c.pem\n", {Path("/c.pem"): PEM}, "ca_file",
         "is for https:// URLs only"),
        ("url = http://h/\nverify = no\n", {}, "verify", "verify = no is for https:// URLs only"),
        ("url = https://h/\nca_file = /c.pem\nverify = no\n", {Path("/c.pem"): PEM}, "verify",
         "give either ca_file or verify = no, not both"),
        ("url = https://h/\nverify = maybe\n", {}, "verify", "yes/no"),
        ("url = https://h/\nca_file =\n", {}, "ca_file", "empty"),
    ],
)  # fmt: skip
def test_a_ca_file_or_verify_that_cannot_work_is_reported_on_its_key(
    keys: str, files: dict[Path, bytes], key: str, message: str
) -> None:
    problem = one(BASE + "[webhook:a]\n" + keys, host=FakeHost(files=files))
    assert (problem.section, problem.key) == ("webhook:a", key)
    assert message in problem.message, problem.message
    assert "://h/" not in problem.message  # the URL (it may hold a token) is not echoed


def test_verify_no_on_https_is_accepted() -> None:
    config = parse(BASE + "[webhook:a]\nurl = https://h/\nverify = no\n")
    assert config.webhooks[0].verify is False and config.webhooks[0].ca_file is None


# --- phones -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pid", ["0", "-1", "abc", "01", "1.5", "", "²"])
def test_phone_id_must_be_a_positive_integer(pid: str) -> None:
    problem = one(BASE + f"[phone:{pid}]\ndevice = /dev/x\n")
    assert problem.section == f"phone:{pid}" and "positive integer" in problem.message


def test_phone_needs_a_device_or_an_identity() -> None:
    problem = one(BASE + "[phone:1]\nname = x\n")
    assert (problem.section, problem.key) == ("phone:1", "device")
    parse(BASE + "[phone:1]\niccid = 89331503190801456789\n")


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
def test_bad_phone_values_are_reported_on_their_key(key: str, raw: str, fragment: str) -> None:
    problem = one(BASE + f"[phone:1]\ndevice = /dev/x\n{key} = {raw}\n")
    assert problem.key == key and fragment in problem.message


GAMMU_PHONE = BASE + "[phone:1]\nbackend = gammu\ndevice = /dev/x\n"


def test_gammu_backend_is_accepted_where_the_host_has_python_gammu() -> None:
    assert parse(GAMMU_PHONE, host=FakeHost(gammu=True)).phones[0].backend == "gammu"


def test_gammu_backend_needs_python_gammu_on_the_host() -> None:
    problem = one(GAMMU_PHONE, host=FakeHost(gammu=False))
    assert (problem.section, problem.key) == ("phone:1", "backend")
    assert problem.message == "backend = gammu needs python-gammu (pip install raspisms-daemon[gammu])"


# --- [api] listen -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listen",
    ["127.0.0.1:8642", "localhost:1", "[::1]:8642", "[::]:0", "0.0.0.0:65535", "unix:/run/x/api.sock"],
)
def test_good_listen_addresses_are_kept_as_written(listen: str) -> None:
    assert validate_listen(listen) is None
    assert parse(BASE + f"[api]\nlisten = {listen}\n").api.listen == listen


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
def test_bad_listen_addresses_are_reported_on_api_listen(listen: str, fragment: str) -> None:
    problem = one(BASE + f"[api]\nlisten = {listen}\n")
    assert (problem.section, problem.key) == ("api", "listen") and fragment in problem.message


# --- RaspiSMS compatibility keys --------------------------------------------------------------------


def test_the_removed_status_success_key_names_the_flavor_key_that_replaces_it() -> None:
    problem = one(BASE + "[delivery]\nstatus_success = success\n")
    assert (problem.section, problem.key) == ("delivery", "status_success")
    assert "[webhook:NAME] flavor = documented" in problem.message and "raspisms" in problem.message


@pytest.mark.parametrize(
    ("text", "section", "key", "fragment"),
    [
        ("[webhook:a]\nurl = http://x/\nflavor = code\n", "webhook:a", "flavor", "documented"),
        ("[phone:1]\ndevice = /dev/x\ngroup = 0\n", "phone:1", "group", "at least 1"),
        ("[phone:1]\ndevice = /dev/x\npriority = -1\n", "phone:1", "priority", "at least 0"),
        ("[sms_stop]\nreply = {{ broken\n", "sms_stop", "reply", "template error"),
        ("[sms_stop]\nreply = " + "x" * 1001 + "\n", "sms_stop", "reply", "at most 1000"),
    ],
)
def test_bad_raspisms_compatibility_values_are_reported_on_their_key(
    text: str, section: str, key: str, fragment: str
) -> None:
    problem = one(BASE + text)
    assert (problem.section, problem.key) == (section, key) and fragment in problem.message, problem


def test_a_stop_reply_is_not_checked_as_a_template_when_templating_is_off() -> None:
    config = parse(BASE + "[api]\ntemplating = no\n[sms_stop]\nreply = {{ broken\n")
    assert config.sms_stop.reply == "{{ broken"
