"""What one delivery attempt leads to (webhooks/results.decide), table-driven."""

from __future__ import annotations

import random

import pytest

from raspisms_daemon.webhooks.results import AttemptResult, Decision, decide, is_success

NOW = 1_000.0
SCHEDULE = (0.0, 5.0, 300.0)  # three attempts in all


@pytest.mark.parametrize(
    ("status", "error", "attempts_done", "retry_after", "expected"),
    [
        (200, None, 0, None, Decision(AttemptResult.DELIVERED)),
        (204, None, 2, None, Decision(AttemptResult.DELIVERED)),  # even on the last attempt
        (299, None, 0, None, Decision(AttemptResult.DELIVERED)),
        (500, None, 0, None, Decision(AttemptResult.RETRY, NOW + 5.0, "HTTP 500")),
        (None, "timeout", 1, None, Decision(AttemptResult.RETRY, NOW + 300.0, "timeout")),
        (302, None, 0, None, Decision(AttemptResult.RETRY, NOW + 5.0, "HTTP 302")),  # a redirect is no 2xx
        (500, None, 2, None, Decision(AttemptResult.DEAD, None, "HTTP 500")),  # the schedule is spent
        (None, "ClientConnectorError", 2, None, Decision(AttemptResult.DEAD, None, "ClientConnectorError")),
        (410, None, 0, None, Decision(AttemptResult.GONE, NOW, "HTTP 410")),
        (410, None, 2, None, Decision(AttemptResult.GONE, NOW, "HTTP 410")),  # gone, never dead: kept
        (429, None, 0, "60", Decision(AttemptResult.RETRY, NOW + 60.0, "HTTP 429")),  # Retry-After wins
        (503, None, 1, "7", Decision(AttemptResult.RETRY, NOW + 7.0, "HTTP 503")),
        (500, None, 0, "60", Decision(AttemptResult.RETRY, NOW + 5.0, "HTTP 500")),  # only on 429/503
        (429, None, 0, "99999", Decision(AttemptResult.RETRY, NOW + 300.0, "HTTP 429")),  # capped
        (429, None, 2, "60", Decision(AttemptResult.DEAD, None, "HTTP 429")),  # grants no extra attempt
    ],
)
def test_an_attempt_leads_to_delivered_retry_dead_or_gone(
    status: int | None, error: str | None, attempts_done: int, retry_after: str | None, expected: Decision
) -> None:
    decision = decide(
        status=status,
        error=error,
        attempts_done=attempts_done,
        now=NOW,
        schedule=SCHEDULE,
        jitter=0.0,
        rng=random.Random(0),
        retry_after=retry_after,
    )
    assert decision == expected


def test_jitter_moves_the_retry_time_within_its_bounds() -> None:
    rng = random.Random(7)
    times = {
        decide(
            status=500, error=None, attempts_done=1, now=NOW, schedule=SCHEDULE, jitter=0.2, rng=rng
        ).next_attempt_at
        for _ in range(200)
    }
    assert len(times) > 100
    assert all(t is not None and NOW + 240.0 <= t <= NOW + 360.0 for t in times)


@pytest.mark.parametrize(
    ("status", "ok"), [(None, False), (199, False), (200, True), (299, True), (300, False)]
)
def test_success_is_exactly_2xx(status: int | None, ok: bool) -> None:
    assert is_success(status) is ok
