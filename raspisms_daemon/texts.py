"""What RaspiSMS (PHP) does to an SMS text before it looks at it: ``trim()``.

Shared by the API (a blank text), MQTT jobs (the same rule) and SMS STOP (the whole text compared)."""

from __future__ import annotations

__all__ = ["blank", "trim"]

_PHP_TRIM = " \t\n\r\0\x0b"  # what PHP's trim() strips by default: no Unicode space


def trim(text: str) -> str:
    return text.strip(_PHP_TRIM)


def blank(text: str) -> bool:
    """Nothing but what PHP's ``trim`` removes: RaspiSMS skips such a text when sending."""
    return not trim(text)
