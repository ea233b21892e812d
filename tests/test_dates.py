"""RaspiSMS's date format, written and read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.dates import format_date, parse_date


def test_format_date_is_24h_with_seconds() -> None:
    assert format_date(datetime(2026, 12, 31, 23, 5, 9)) == "2026-12-31 23:05:09"
    assert format_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05"


def test_parse_date_reads_what_format_date_writes() -> None:
    assert parse_date(" 2026-01-31 18:30:00 ") == datetime(2026, 1, 31, 18, 30)
    with pytest.raises(ValueError):
        parse_date("2026-01-31T18:30:00")


def test_a_clock_owns_the_time_zone_of_local_dates() -> None:
    clock = ManualClock(0.0, tz=timezone(timedelta(hours=2)))
    assert format_date(clock.local(0.0)) == "1970-01-01 02:00:00"
    assert clock.from_local(datetime(1970, 1, 1, 2, 0, 0)) == 0.0
    assert format_date(ManualClock(0.0).local(0.0)) == "1970-01-01 00:00:00"  # UTC unless told
