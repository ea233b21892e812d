"""The validated configuration: immutable records whose defaults are the documented ones. No I/O.

Durations are seconds (``float``); the reliability periods are minutes, as RaspiSMS counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..reliability import ReliabilityRule
from ..webhooks.events import DEFAULT_FLAVOR, WEBHOOK_TYPES

__all__ = [
    "BACKENDS",
    "DEFAULT_SCHEDULE",
    "LOG_LEVELS",
    "ApiConfig",
    "Config",
    "DaemonConfig",
    "DeliveryConfig",
    "MqttConfig",
    "PhoneConfig",
    "ReliabilityConfig",
    "SmsStopConfig",
    "WebhookConfig",
]

DEFAULT_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
LOG_LEVELS = ("debug", "info", "warning", "error")
BACKENDS = ("at", "gammu")


class DaemonConfig(NamedTuple):
    database: Path = Path("/var/lib/raspisms-daemon/raspisms.sqlite3")
    api_key: str = ""  # from api_key, or read from api_key_file (stripped)
    user_id: int = 1
    log_level: str = "info"  # debug|info|warning|error
    multipart_timeout: float = 86400.0  # incomplete multipart delivered with what arrived after this


class ApiConfig(NamedTuple):
    enabled: bool = True
    listen: str = "127.0.0.1:8642"  # "HOST:PORT", "[::1]:PORT" or "unix:/path/to.sock"
    templating: bool = True  # SMS texts are templates rendered per number (RaspiSMS's default)


class DeliveryConfig(NamedTuple):
    timeout: float = 15.0
    connect_timeout: float = 5.0
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE  # delay before attempt n (first is 0 = at once)
    jitter: float = 0.2  # ± fraction applied to each delay
    concurrency: int = 32
    per_webhook_concurrency: int = 8
    retention: float = 7 * 86400.0  # delivered outbox rows older than this are pruned


class WebhookConfig(NamedTuple):
    name: str
    url: str
    types: frozenset[str] = frozenset(WEBHOOK_TYPES)
    format: str = "form"  # form|json
    enabled: bool = True
    flavor: str = DEFAULT_FLAVOR  # documented|raspisms: the bodies as documented, or as RaspiSMS's code sends
    ca_file: Path | None = None  # https: trust the CAs in this PEM file instead of the system's (--cacert)
    verify: bool = True  # no: an https receiver's certificate is not checked (warned about)


class PhoneConfig(NamedTuple):
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
    group: int | None = None  # phone group id (RaspiSMS's id_phone_group): its phones stand in for each other
    priority: int = 0  # among the phones that can send an SMS, the highest priority is chosen


class ReliabilityConfig(NamedTuple):
    interval: float = 900.0
    failed: ReliabilityRule = ReliabilityRule(True, 10.0, 25, 120.0, 1.0)
    unknown: ReliabilityRule = ReliabilityRule(False, 25.0, 25, 120.0, 1.0)
    auto_disable: bool = False


class SmsStopConfig(NamedTuple):
    enabled: bool = True  # sends to numbers on the STOP list are skipped (unless tagged SMS_STOP)
    reply: str = ""  # answered to the first STOP of a number; empty: no answer (it costs an SMS)


# A frozen dataclass, not a NamedTuple like the others: its repr must leave the password out.
@dataclass(frozen=True)
class MqttConfig:
    """``[mqtt]``: a broker to publish events to and take send jobs from (docs/design.md, "Several
    gateways"). Present only when the section is."""

    host: str
    port: int
    tls: bool = False  # mqtts://
    ca_file: Path | None = None  # trust this CA (PEM) instead of the system's
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # from password, or read from password_file
    client_id: str = ""  # "": raspisms-<gateway>
    topic_prefix: str = "raspisms"
    gateway: str = ""  # "": the host name
    homeassistant: bool = False  # publish Home Assistant's MQTT discovery documents
    discovery_prefix: str = "homeassistant"

    @property
    def url(self) -> str:
        """The broker's address as the config gave it, without credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


class Config(NamedTuple):
    daemon: DaemonConfig
    api: ApiConfig
    delivery: DeliveryConfig
    reliability: ReliabilityConfig
    sms_stop: SmsStopConfig = SmsStopConfig()
    webhooks: tuple[WebhookConfig, ...] = ()
    phones: tuple[PhoneConfig, ...] = ()
    mqtt: MqttConfig | None = None
    path: Path | None = None
    warnings: tuple[str, ...] = ()  # not fatal, to be logged at start (e.g. a world-readable key)
