"""How the MQTT link is wired: aiomqtt loaded only with [mqtt], and [mqtt] changes wait for a restart."""

from __future__ import annotations

import subprocess
import sys

from raspisms_daemon.config import (
    ApiConfig,
    Config,
    DaemonConfig,
    DeliveryConfig,
    MqttConfig,
    ReliabilityConfig,
)
from raspisms_daemon.reload import plan_reload


def test_a_daemon_without_mqtt_never_imports_aiomqtt_or_paho() -> None:
    code = (
        "import sys, raspisms_daemon.cli, raspisms_daemon.daemon, raspisms_daemon.commands.run; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiomqtt', 'paho')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_changed_mqtt_section_is_named_as_needing_a_restart() -> None:
    base = Config(DaemonConfig(api_key="k" * 20), ApiConfig(), DeliveryConfig(), ReliabilityConfig())
    new = base._replace(mqtt=MqttConfig(host="broker", port=1883))
    plan = plan_reload(base, new)
    assert "[mqtt]" in plan.needs_restart
    assert plan.config.mqtt is None  # the running value is kept
