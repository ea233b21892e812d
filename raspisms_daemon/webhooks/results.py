"""What one delivery attempt leads to: the decision, without I/O (the dispatcher records it).

2xx                       → delivered
410 Gone                  → gone: the webhook is disabled, the row stays pending and due
no answer, and the fault  → local: not counted against the receiver's schedule; due again after
  is this machine's         :func:`local_delay` (see :func:`error_kind`)
any other answer, or none → retry after the schedule's next delay (``Retry-After`` on 429/503),
                            or dead when the schedule has no attempt left
"""

from __future__ import annotations

import enum
import errno
import random
from collections.abc import Sequence
from typing import NamedTuple

from .schedule import retry_delay

__all__ = [
    "EAI_MEMORY",
    "LOCAL_DELAY_MAX",
    "LOCAL_DELAY_MIN",
    "LOCAL_ERRNOS",
    "AttemptResult",
    "Decision",
    "ErrorKind",
    "Failure",
    "decide",
    "error_kind",
    "is_success",
    "local_delay",
]


class AttemptResult(enum.Enum):
    """What a recorded delivery attempt led to (also the ``result`` label of ``deliveries_total``)."""

    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # failed, another attempt is scheduled
    DEAD = "dead"  # failed, no attempt left
    GONE = "gone"  # 410: the webhook was disabled, the row kept pending
    LOCAL = "local"  # failed on this machine (no file descriptor left…): not counted, due again soon


class Failure(enum.Enum):
    """How an attempt that got no HTTP answer failed, as the I/O code saw it (a value, not a message)."""

    TIMEOUT = "timeout"  # no answer within the delivery timeout
    NETWORK = "network"  # resolving, connecting, TLS, sending or reading failed; its errno may say more
    INVALID = "invalid"  # no request can be made of this row and URL (a permanent fault)
    INTERNAL = "internal"  # this process could not make the attempt: the webhook's ca_file cannot be
    # loaded, a thread for the resolver cannot start, an unexpected exception


class ErrorKind(enum.Enum):
    RECEIVER = "receiver"  # the receiver's or the network's doing: the attempt counts
    LOCAL = "local"  # this machine's: the attempt does not count against the receiver


# getaddrinfo's "out of memory" (EAI_MEMORY in glibc's netdb.h). EAI_* codes are negative on Linux, so
# they share the errno table below without clashing; an EAI_SYSTEM failure reaches Python as the OSError
# of its errno (EMFILE…) already.
EAI_MEMORY = -10
# A connection that cannot start for want of a resource on this machine: file descriptors (per process,
# system-wide), memory, socket buffers, a free local port, a kernel table (EAGAIN on connect).
LOCAL_ERRNOS = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS, errno.EADDRNOTAVAIL, errno.EAGAIN, EAI_MEMORY}
)
LOCAL_DELAY_MIN = 1.0  # seconds before the first new try after a local failure
LOCAL_DELAY_MAX = 60.0  # and never longer, however long the trouble lasts


class Decision(NamedTuple):
    result: AttemptResult
    next_attempt_at: float | None = None  # RETRY, GONE and LOCAL: when the row is due again
    error: str | None = None  # what the row's last_error says (None once delivered)


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def error_kind(failure: Failure | None, os_errno: int | None = None) -> ErrorKind:
    """Whose fault an attempt with no HTTP answer is. ``os_errno`` is the OS error number behind a network
    failure, or getaddrinfo's EAI_* code when resolving the name failed (None: none known)."""
    if failure is Failure.INTERNAL:
        return ErrorKind.LOCAL
    if failure is Failure.NETWORK and os_errno in LOCAL_ERRNOS:
        return ErrorKind.LOCAL
    return ErrorKind.RECEIVER


def local_delay(since: float | None, now: float) -> float:
    """How long a webhook's deliveries wait after a local failure: as long as the trouble has lasted
    (``since``: its first local failure in a row, None for this one), between the two bounds — so 1 s,
    1 s, 2 s, 4 s … 60 s, 60 s: no busy loop, and back within a minute once the machine is fine."""
    lasted = 0.0 if since is None else max(0.0, now - since)
    return min(LOCAL_DELAY_MAX, max(LOCAL_DELAY_MIN, lasted))


def decide(
    *,
    status: int | None,
    error: str | None,
    attempts_done: int,
    now: float,
    schedule: Sequence[float],
    jitter: float,
    rng: random.Random,
    retry_after: str | None = None,
    failure: Failure | None = None,
    os_errno: int | None = None,
    local_since: float | None = None,
) -> Decision:
    """The outcome of attempt number ``attempts_done + 1``: ``status`` is the HTTP status (None when
    there was no answer: ``error`` then says why, ``failure`` and ``os_errno`` how — see :func:`error_kind`).
    ``local_since`` is when this webhook's current run of local failures began (None: not in one)."""
    if is_success(status):
        return Decision(AttemptResult.DELIVERED)
    if status is None and error_kind(failure, os_errno) is ErrorKind.LOCAL:
        return Decision(AttemptResult.LOCAL, now + local_delay(local_since, now), f"local: {error}")
    what = error if status is None else f"HTTP {status}" + (f": {error}" if error else "")
    if status == 410:
        # Kept pending and due: it goes out as soon as someone enables the webhook again.
        return Decision(AttemptResult.GONE, now, what)
    delay = retry_delay(
        schedule, attempts_done + 1, jitter=jitter, rng=rng, status=status, retry_after=retry_after, now=now
    )
    if delay is None:
        return Decision(AttemptResult.DEAD, None, what)
    return Decision(AttemptResult.RETRY, now + delay, what)
