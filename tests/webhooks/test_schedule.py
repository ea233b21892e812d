"""The retry schedule: delays with ±jitter, exhaustion, Retry-After parsing and its cap."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspisms_daemon.config import DEFAULT_SCHEDULE
from raspisms_daemon.webhooks.schedule import RETRY_AFTER_MIN_CAP, next_delay, parse_retry_after, retry_delay

NOW = 1_700_000_000.0


def test_without_jitter_each_attempt_waits_its_schedule_entry() -> None:
    rng = random.Random(1)
    assert [next_delay(DEFAULT_SCHEDULE, n, jitter=0, rng=rng) for n in range(10)] == list(DEFAULT_SCHEDULE)


def test_schedule_exhausted_means_dead() -> None:
    assert next_delay((0.0, 5.0), 2, jitter=0.2, rng=random.Random()) is None
    assert retry_delay((0.0, 5.0), 2, jitter=0.2, rng=random.Random(), status=503, retry_after="1") is None


@given(st.integers(0, 9), st.floats(0, 1), st.integers(0, 2**32))
def test_jitter_stays_within_its_fraction(n: int, jitter: float, seed: int) -> None:
    delay = next_delay(DEFAULT_SCHEDULE, n, jitter=jitter, rng=random.Random(seed))
    assert delay is not None
    base = DEFAULT_SCHEDULE[n]
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9


def test_jitter_actually_spreads_delays() -> None:
    rng = random.Random(42)
    delays: set[float] = set()
    for _ in range(50):
        delay = next_delay(DEFAULT_SCHEDULE, 2, jitter=0.2, rng=rng)
        assert delay is not None
        delays.add(delay)
    assert len(delays) > 40 and min(delays) < 300 < max(delays)


def test_negative_attempt_count_is_a_bug() -> None:
    with pytest.raises(ValueError):
        next_delay(DEFAULT_SCHEDULE, -1, jitter=0, rng=random.Random())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date_is_seconds_from_now() -> None:
    when = datetime.fromtimestamp(NOW + 90, tz=UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=NOW) == pytest.approx(90)
    past = datetime.fromtimestamp(NOW - 90, tz=UTC)
    assert parse_retry_after(format_datetime(past, usegmt=True), now=NOW) == 0.0


def test_retry_after_replaces_the_schedule_on_429_and_503_only() -> None:
    rng = random.Random(0)
    assert retry_delay(DEFAULT_SCHEDULE, 1, jitter=0, rng=rng, status=503, retry_after="42", now=NOW) == 42
    assert retry_delay(DEFAULT_SCHEDULE, 1, jitter=0, rng=rng, status=429, retry_after="1", now=NOW) == 1
    assert retry_delay(DEFAULT_SCHEDULE, 1, jitter=0, rng=rng, status=500, retry_after="42", now=NOW) == 5
    assert retry_delay(DEFAULT_SCHEDULE, 1, jitter=0, rng=rng, status=503, retry_after="junk", now=NOW) == 5


def test_retry_after_is_capped_at_the_longest_scheduled_delay() -> None:
    rng = random.Random(0)
    year = str(365 * 86400)
    assert retry_delay(DEFAULT_SCHEDULE, 1, jitter=0, rng=rng, status=503, retry_after=year) == max(
        DEFAULT_SCHEDULE
    )
    tiny = (0.0, 0.1, 0.2)
    assert retry_delay(tiny, 1, jitter=0, rng=rng, status=503, retry_after=year) == RETRY_AFTER_MIN_CAP
