"""``[mqtt]``: the broker URL, credentials, names; every mistake named by section and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.config import MqttConfig

from ._support import BASE, FakeHost, parse, problems, where


def test_no_section_means_no_mqtt() -> None:
    assert parse(BASE).mqtt is None


def test_a_minimal_section_takes_the_documented_defaults() -> None:
    cfg = parse(BASE + "[mqtt]\nurl = mqtt://broker.lan\n").mqtt
    assert cfg == MqttConfig(host="broker.lan", port=1883)
    assert (cfg.topic_prefix, cfg.gateway, cfg.client_id, cfg.homeassistant) == ("raspisms", "", "", False)
    assert cfg.url == "mqtt://broker.lan:1883"


def test_mqtts_defaults_to_8883_and_takes_a_ca_file_relative_to_the_config(tmp_path: Path) -> None:
    text = BASE + "[mqtt]\nurl = mqtts://[::1]\nca_file = ca.pem\n"
    host = FakeHost(files={tmp_path / "ca.pem": b"-----BEGIN CERTIFICATE-----\n"})
    cfg = parse(text, path=tmp_path / "config.ini", host=host).mqtt
    assert cfg is not None and (cfg.host, cfg.port, cfg.tls, cfg.ca_file) == (
        "::1",
        8883,
        True,
        tmp_path / "ca.pem",
    )
    assert cfg.url == "mqtts://[::1]:8883"


@pytest.mark.parametrize(
    ("files", "message"),
    [({}, "cannot read /ca.pem"), ({Path("/ca.pem"): b"a key"}, "holds no certificate OpenSSL can read")],
)
def test_a_ca_file_the_link_cannot_load_is_reported_at_start(files: dict[Path, bytes], message: str) -> None:
    text = BASE + "[mqtt]\nurl = mqtts://b\nca_file = /ca.pem\n"
    (problem,) = problems(text, host=FakeHost(files=files))
    assert (problem.section, problem.key) == ("mqtt", "ca_file")
    assert message in problem.message


def test_the_password_may_come_from_a_file_and_is_never_in_the_repr(tmp_path: Path) -> None:
    host = FakeHost(files={tmp_path / "pw": b"s3cret\n"})
    text = BASE + "[mqtt]\nurl = mqtt://b\nusername = gw\npassword_file = pw\n"
    cfg = parse(text, path=tmp_path / "config.ini", host=host).mqtt
    assert cfg is not None and cfg.password == "s3cret"
    assert "s3cret" not in repr(cfg)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("[mqtt]\nusername = u\n", ("mqtt", "url")),
        ("[mqtt]\nurl = http://broker\n", ("mqtt", "url")),
        ("[mqtt]\nurl = mqtt://u:p@broker\n", ("mqtt", "url")),
        ("[mqtt]\nurl = mqtt://broker/topic\n", ("mqtt", "url")),
        ("[mqtt]\nurl = mqtt://\n", ("mqtt", "url")),
        ("[mqtt]\nurl = mqtt://b\npassword = p\n", ("mqtt", "username")),
        ("[mqtt]\nurl = mqtt://b\nusername = u\npassword = p\npassword_file = f\n", ("mqtt", "password")),
        ("[mqtt]\nurl = mqtt://b\nca_file = ca.pem\n", ("mqtt", "ca_file")),
        ("[mqtt]\nurl = mqtt://b\ntopic_prefix = a/b\n", ("mqtt", "topic_prefix")),
        ("[mqtt]\nurl = mqtt://b\ngateway = pi#1\n", ("mqtt", "gateway")),
        ("[mqtt]\nurl = mqtt://b\ngateway = \n", ("mqtt", "gateway")),
        ("[mqtt]\nurl = mqtt://b\nhomeassistant = maybe\n", ("mqtt", "homeassistant")),
        ("[mqtt]\nurl = mqtt://b\nqos = 2\n", ("mqtt", "qos")),
    ],
)
def test_a_mistake_is_named_by_section_and_key(section: str, key: tuple[str, str]) -> None:
    assert key in where(BASE + section)
