"""RaspiSMS's date format, in one place: ``YYYY-MM-DD HH:MM:SS`` (PHP ``Y-m-d H:i:s``), 24 h.

Webhook bodies, the API's lists and the ``at`` of a scheduled SMS all use it, in the daemon's time zone
(the :class:`~raspisms_daemon.clock.Clock` says which). Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["DATE_FORMAT", "format_date", "parse_date"]

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_date(when: datetime) -> str:
    """The wall-clock fields of ``when`` as RaspiSMS writes them (the zone is the caller's choice)."""
    return when.strftime(DATE_FORMAT)


def parse_date(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` → a naive wall-clock datetime; ValueError when it is not one."""
    return datetime.strptime(text.strip(), DATE_FORMAT)
