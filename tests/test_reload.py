"""What a configuration reload takes at once and what waits for a restart (pure: two configs in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.config import (
    ApiConfig,
    Config,
    DaemonConfig,
    DeliveryConfig,
    PhoneConfig,
    ReliabilityConfig,
    WebhookConfig,
)
from raspisms_daemon.reliability import ReliabilityRule
from raspisms_daemon.reload import RELOADABLE_PHONE_KEYS, plan_reload

OLD = Config(
    daemon=DaemonConfig(database=Path("/var/lib/x.sqlite3"), api_key="k" * 32),
    api=ApiConfig(),
    delivery=DeliveryConfig(),
    reliability=ReliabilityConfig(),
    webhooks=(WebhookConfig("inbox", "http://127.0.0.1:9000/a"),),
    phones=(PhoneConfig(id=1, device="/dev/ttyUSB0", send_rate=6.0),),
)


@pytest.mark.parametrize(
    ("new", "applied", "needs_restart"),
    [
        (OLD, [], []),
        (OLD._replace(daemon=OLD.daemon._replace(log_level="debug")), ["[daemon] log_level"], []),
        (OLD._replace(daemon=OLD.daemon._replace(api_key="n" * 32)), [], ["[daemon] api_key"]),
        (OLD._replace(daemon=OLD.daemon._replace(database=Path("/x"))), [], ["[daemon] database"]),
        (OLD._replace(api=ApiConfig(listen="127.0.0.1:9999")), [], ["[api] listen"]),
        (OLD._replace(delivery=OLD.delivery._replace(timeout=3.0)), [], ["[delivery] timeout"]),
        (
            OLD._replace(
                reliability=OLD.reliability._replace(failed=ReliabilityRule(True, 5.0, 10, 60.0, 1.0))
            ),
            ["[reliability] failed"],
            [],
        ),
        (
            OLD._replace(webhooks=(WebhookConfig("inbox", "http://127.0.0.1:9000/b"),)),
            ["[webhook:inbox]"],
            [],
        ),
        (
            OLD._replace(webhooks=(*OLD.webhooks, WebhookConfig("ha", "http://127.0.0.1:9001/"))),
            ["[webhook:ha]"],
            [],
        ),
        (OLD._replace(webhooks=()), ["[webhook:inbox]"], []),
        (
            OLD._replace(phones=(OLD.phones[0]._replace(send_rate=1.0, hangup_calls=2),)),
            ["[phone:1] hangup_calls", "[phone:1] send_rate"],
            [],
        ),
        (
            OLD._replace(phones=(OLD.phones[0]._replace(device="/dev/ttyUSB1", pin="1234"),)),
            [],
            ["[phone:1] device", "[phone:1] pin"],
        ),
        (OLD._replace(phones=(*OLD.phones, PhoneConfig(id=2))), [], ["[phone:2] (added)"]),
        (OLD._replace(phones=()), [], ["[phone:1] (removed)"]),
    ],
    ids=lambda v: "" if isinstance(v, Config) else None,
)
def test_what_a_reload_applies_and_what_needs_a_restart(
    new: Config, applied: list[str], needs_restart: list[str]
) -> None:
    plan = plan_reload(OLD, new)
    assert sorted(plan.applied) == sorted(applied)
    assert sorted(plan.needs_restart) == sorted(needs_restart)


def test_the_running_values_are_kept_for_what_needs_a_restart() -> None:
    new = OLD._replace(
        daemon=OLD.daemon._replace(api_key="n" * 32, log_level="warning"),
        api=ApiConfig(listen="unix:/run/x.sock"),
        webhooks=(WebhookConfig("inbox", "http://127.0.0.1:9000/b"),),
        phones=(OLD.phones[0]._replace(device="/dev/ttyUSB1", send_rate=2.0, name="gate"),),
    )
    config = plan_reload(OLD, new).config
    assert config.daemon.api_key == OLD.daemon.api_key and config.daemon.log_level == "warning"
    assert config.api == OLD.api
    assert config.webhooks == new.webhooks
    (phone,) = config.phones
    assert (phone.device, phone.send_rate, phone.name) == ("/dev/ttyUSB0", 2.0, "gate")


def test_only_keys_read_at_each_use_are_reloadable_phone_keys() -> None:
    assert RELOADABLE_PHONE_KEYS == {"name", "send_rate", "delivery_reports", "hangup_calls"}
    assert RELOADABLE_PHONE_KEYS <= set(PhoneConfig._fields)
