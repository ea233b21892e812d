"""RaspiSMS's date format, in one place: ``YYYY-MM-DD HH:MM:SS`` (PHP ``Y-m-d H:i:s``), 24 h.

Webhook bodies, the API's lists and the ``at`` of a scheduled SMS all use it, in the daemon's time zone
(the :class:`~raspisms_daemon.clock.Clock` says which). Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["DATE_FORMAT", "format_date", "parse_date", "parse_loose_date"]

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_date(when: datetime) -> str:
    """The wall-clock fields of ``when`` as RaspiSMS writes them (the zone is the caller's choice)."""
    return when.strftime(DATE_FORMAT)


def parse_date(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` → a naive wall-clock datetime; ValueError when it is not exactly one.

    As RaspiSMS's ``Tool::validate_date``: the text must read back the same (zero-padded fields, a real
    date: ``2024-02-30 10:00:00`` and ``2024-1-5 10:00:00`` are refused)."""
    when = datetime.strptime(text, DATE_FORMAT)
    if format_date(when) != text:
        raise ValueError(f"{text!r} is not a date of format Y-m-d H:i:s")
    return when


_LOOSE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_RELATIVE_DAYS = {"today": 0, "midnight": 0, "yesterday": -1, "tomorrow": 1}


def parse_loose_date(text: str, now: datetime) -> datetime:
    """What PHP's ``new DateTime(text)`` reads among the usual forms: ``Y-m-d H:i:s``, ``Y-m-d H:i``,
    ``Y-m-d`` (midnight), ISO 8601, ``now``, ``today``/``midnight``, ``yesterday``, ``tomorrow``
    (relative to the naive local ``now``); ValueError otherwise."""
    value = text.strip()
    word = value.lower()
    if word == "now":
        return now
    if word in _RELATIVE_DAYS:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return day + timedelta(days=_RELATIVE_DAYS[word])
    for fmt in _LOOSE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone().replace(tzinfo=None) if parsed.tzinfo is not None else parsed
