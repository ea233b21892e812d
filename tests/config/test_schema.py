"""The schema: its defaults are the documented ones, and config.example.ini documents every key and field."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from raspisms_daemon import reliability
from raspisms_daemon.config import (
    DEFAULT_SCHEDULE,
    KNOWN_KEYS,
    ApiConfig,
    Config,
    DaemonConfig,
    DeliveryConfig,
    MqttConfig,
    PhoneConfig,
    ReliabilityConfig,
    ReliabilityRule,
    SmsStopConfig,
    WebhookConfig,
    load_config,
    parse_config,
)
from raspisms_daemon.webhooks.events import WEBHOOK_TYPES
from tests.helpers.tls import make_pki

from ._support import EXAMPLE


def test_the_reliability_rule_is_the_one_the_computation_takes() -> None:
    assert ReliabilityRule is reliability.ReliabilityRule
    assert ReliabilityConfig().failed == ReliabilityRule(True, 10.0, 25, 120.0, 1.0)
    assert ReliabilityConfig().unknown == ReliabilityRule(False, 25.0, 25, 120.0, 1.0)


def test_a_webhook_gets_every_event_type_by_default() -> None:
    assert WebhookConfig("a", "http://h/").types == frozenset(WEBHOOK_TYPES)


# --- the example file -----------------------------------------------------------------------------


def test_example_config_parses_and_states_the_true_defaults() -> None:
    config = load_config(EXAMPLE)
    assert config.daemon == DaemonConfig(api_key=config.daemon.api_key)
    assert config.api == ApiConfig()
    assert config.delivery == DeliveryConfig()
    assert config.delivery.schedule == DEFAULT_SCHEDULE
    assert config.reliability == ReliabilityConfig()
    assert config.sms_stop == SmsStopConfig()
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
    assert set(doc) == {
        "daemon",
        "api",
        "delivery",
        "reliability",
        "sms_stop",
        "mqtt",
        "webhook:inbox",
        "phone:1",
    }
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
    assert {f.name for f in dataclasses.fields(SmsStopConfig)} <= doc["sms_stop"]
    # host, port and tls come from url; password from password or password_file.
    mqtt_fields = {f.name for f in dataclasses.fields(MqttConfig)} - {"host", "port", "tls"}
    assert mqtt_fields <= doc["mqtt"] and {"url", "password_file"} <= doc["mqtt"]
    rule_keys = {
        "enabled": "enabled",
        "rate_limit": "rate",
        "volume": "volume",
        "period": "period",
        "grace": "grace",
    }
    assert set(rule_keys) == set(ReliabilityRule._fields)
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
        "sms_stop",
        "webhooks",
        "phones",
        "mqtt",
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
    make_pki(tmp_path, name="receiver")  # the example's ca_files, next to the config file
    make_pki(tmp_path, name="broker")
    config = parse_config("\n".join(lines), path=tmp_path / "c.ini")
    assert [w.name for w in config.webhooks] == ["inbox"]
    assert config.webhooks[0].types == frozenset(WEBHOOK_TYPES)
    assert config.webhooks[0].ca_file == tmp_path / "receiver-ca.pem"
    assert [(p.id, p.device, p.pin) for p in config.phones] == [
        (1, "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0", "1234")
    ]
