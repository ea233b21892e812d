"""The daemon's configuration: one INI file, validated in full before anything starts.

- ``schema``: the immutable records (the validated result) and their defaults;
- ``values``: converters and validators of single values, shared with the API, the store and the CLI;
- ``ini``: INI text → Config, raising :class:`~raspisms_daemon.errors.ConfigError` that lists *every*
  problem (section, key, what is wrong); pure, the machine is asked through an injected ``Host``;
- ``load``: reading the file and the key file, and exit 78 on a bad config.

Durations are seconds (``float``) after parsing; the INI accepts ``30``, ``30s``, ``5m``, ``2h``, ``7d``.
"""

from __future__ import annotations

from ..reliability import ReliabilityRule
from .ini import KNOWN_KEYS, Host, parse_ini
from .load import (
    DEFAULT_CONFIG_PATH,
    EX_CONFIG,
    format_problem,
    load_config,
    load_config_or_exit,
    parse_config,
)
from .schema import (
    DEFAULT_SCHEDULE,
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
    Listen,
    TcpListen,
    UnixListen,
    parse_duration,
    parse_listen,
    validate_api_key,
    validate_listen,
    validate_webhook_name,
    validate_webhook_url,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_SCHEDULE",
    "EX_CONFIG",
    "KNOWN_KEYS",
    "ApiConfig",
    "Config",
    "DaemonConfig",
    "DeliveryConfig",
    "Host",
    "Listen",
    "MqttConfig",
    "PhoneConfig",
    "ReliabilityConfig",
    "ReliabilityRule",
    "SmsStopConfig",
    "TcpListen",
    "UnixListen",
    "WebhookConfig",
    "format_problem",
    "load_config",
    "load_config_or_exit",
    "parse_config",
    "parse_duration",
    "parse_ini",
    "parse_listen",
    "validate_api_key",
    "validate_listen",
    "validate_webhook_name",
    "validate_webhook_url",
]
