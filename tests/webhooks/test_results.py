"""What one delivery attempt leads to (webhooks/results.decide), table-driven."""

from __future__ import annotations

import errno
import random
import socket

import pytest

from raspisms_daemon.webhooks.results import (
    EAI_MEMORY,
    AttemptResult,
    Decision,
    ErrorKind,
    Failure,
    decide,
    error_kind,
    is_success,
    local_delay,
)

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


@pytest.mark.parametrize(
    ("failure", "os_errno", "kind"),
    [
        # This machine's: no descriptor, memory, buffer, local port or kernel table left.
        (Failure.NETWORK, errno.EMFILE, ErrorKind.LOCAL),  # "Too many open files"
        (Failure.NETWORK, errno.ENFILE, ErrorKind.LOCAL),  # the system's file table is full
        (Failure.NETWORK, errno.ENOMEM, ErrorKind.LOCAL),
        (Failure.NETWORK, errno.ENOBUFS, ErrorKind.LOCAL),
        (Failure.NETWORK, errno.EADDRNOTAVAIL, ErrorKind.LOCAL),  # no local port left
        (Failure.NETWORK, errno.EAGAIN, ErrorKind.LOCAL),
        (Failure.NETWORK, EAI_MEMORY, ErrorKind.LOCAL),  # the resolver ran out of memory
        (Failure.INTERNAL, None, ErrorKind.LOCAL),  # ca_file unloadable, no resolver thread, a bug
        (Failure.INTERNAL, errno.ECONNREFUSED, ErrorKind.LOCAL),
        # The receiver's or the network's: they count.
        (Failure.NETWORK, errno.ECONNREFUSED, ErrorKind.RECEIVER),
        (Failure.NETWORK, errno.ECONNRESET, ErrorKind.RECEIVER),
        (Failure.NETWORK, errno.EHOSTUNREACH, ErrorKind.RECEIVER),
        (Failure.NETWORK, errno.ENETUNREACH, ErrorKind.RECEIVER),
        (Failure.NETWORK, socket.EAI_NONAME, ErrorKind.RECEIVER),  # no such host
        (Failure.NETWORK, socket.EAI_AGAIN, ErrorKind.RECEIVER),  # the DNS server does not answer
        (Failure.NETWORK, None, ErrorKind.RECEIVER),  # a TLS failure, a server that hung up
        (Failure.TIMEOUT, None, ErrorKind.RECEIVER),
        (Failure.TIMEOUT, errno.EMFILE, ErrorKind.RECEIVER),  # only a network failure's errno is read
        (Failure.INVALID, None, ErrorKind.RECEIVER),  # permanent: counted, so it ends dead
        (None, None, ErrorKind.RECEIVER),
    ],
)
def test_only_this_machine_s_failures_are_local(
    failure: Failure | None, os_errno: int | None, kind: ErrorKind
) -> None:
    assert error_kind(failure, os_errno) is kind


def test_eai_memory_is_glibc_s_code() -> None:
    assert EAI_MEMORY == socket.EAI_MEMORY


@pytest.mark.parametrize(
    ("since", "delay"),
    [
        (None, 1.0),  # the first local failure: a second
        (NOW, 1.0),
        (NOW - 0.5, 1.0),
        (NOW - 1.0, 1.0),
        (NOW - 2.0, 2.0),  # then as long as the trouble has lasted: 1, 1, 2, 4, 8 … s
        (NOW - 30.0, 30.0),
        (NOW - 60.0, 60.0),
        (NOW - 86_400.0, 60.0),  # never more than a minute
        (NOW + 5.0, 1.0),  # a clock that went back
    ],
)
def test_local_delay_grows_with_the_trouble_and_is_capped(since: float | None, delay: float) -> None:
    assert local_delay(since, NOW) == delay


@pytest.mark.parametrize("attempts_done", [0, 2, 50])  # even past the schedule: never dead
def test_a_local_failure_is_due_again_soon_and_never_counted(attempts_done: int) -> None:
    decision = decide(
        status=None,
        error="ClientConnectorError: [Too many open files]",
        attempts_done=attempts_done,
        now=NOW,
        schedule=SCHEDULE,
        jitter=0.2,
        rng=random.Random(0),
        failure=Failure.NETWORK,
        os_errno=errno.EMFILE,
        local_since=NOW - 4.0,
    )
    assert decision == Decision(
        AttemptResult.LOCAL, NOW + 4.0, "local: ClientConnectorError: [Too many open files]"
    )


def test_an_answer_is_never_local_whatever_the_errno() -> None:
    decision = decide(
        status=500,
        error=None,
        attempts_done=0,
        now=NOW,
        schedule=SCHEDULE,
        jitter=0.0,
        rng=random.Random(0),
        failure=Failure.NETWORK,
        os_errno=errno.EMFILE,
    )
    assert decision.result is AttemptResult.RETRY
