"""RaspiSMS's date format, written and read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.dates import format_date, parse_date, parse_loose_date


def test_format_date_is_24h_with_seconds() -> None:
    assert format_date(datetime(2026, 12, 31, 23, 5, 9)) == "2026-12-31 23:05:09"
    assert format_date(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05"


def test_parse_date_reads_what_format_date_writes() -> None:
    assert parse_date("2026-01-31 18:30:00") == datetime(2026, 1, 31, 18, 30)


@pytest.mark.parametrize(
    "text",
    # What RaspiSMS's Tool::validate_date refuses: the text must read back the same (Tool.php:199-204).
    [
        "2026-01-31T18:30:00",
        " 2026-01-31 18:30:00",
        "2026-1-31 18:30:00",
        "2026-02-30 10:00:00",
        "2026-01-31 18:30",
    ],
)
def test_parse_date_takes_exactly_y_m_d_h_i_s(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


NOW = datetime(2026, 5, 6, 7, 8, 9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-01", datetime(2023, 5, 1)),
        ("2023-05-01 10:11", datetime(2023, 5, 1, 10, 11)),
        ("2023-05-01 10:11:12", datetime(2023, 5, 1, 10, 11, 12)),
        ("2023-05-01T10:11:12", datetime(2023, 5, 1, 10, 11, 12)),
        ("now", NOW),
        ("Today", datetime(2026, 5, 6)),
        ("yesterday", datetime(2026, 5, 5)),
        ("tomorrow", datetime(2026, 5, 7)),
    ],
)
def test_parse_loose_date_reads_the_usual_php_datetime_forms(text: str, expected: datetime) -> None:
    assert parse_loose_date(text, NOW) == expected


def test_parse_loose_date_refuses_what_it_does_not_read() -> None:
    with pytest.raises(ValueError):
        parse_loose_date("next monday", NOW)


def test_a_clock_owns_the_time_zone_of_local_dates() -> None:
    clock = ManualClock(0.0, tz=timezone(timedelta(hours=2)))
    assert format_date(clock.local(0.0)) == "1970-01-01 02:00:00"
    assert clock.from_local(datetime(1970, 1, 1, 2, 0, 0)) == 0.0
    assert format_date(ManualClock(0.0).local(0.0)) == "1970-01-01 00:00:00"  # UTC unless told
