"""Which API connections the guard closes (the pure table): at the cap the oldest idle one makes room,
else the oldest reading a body, never one being answered; idle ones past the head timeout go."""

from __future__ import annotations

import pytest

from raspisms_daemon.api.connections import Admission, ConnectionTable, State
from raspisms_daemon.api.limits import ConnectionLimits, connection_cap


def table(cap: int = 3, head_timeout: float = 15.0) -> ConnectionTable[str]:
    return ConnectionTable(cap, head_timeout)


def test_under_the_cap_a_connection_is_let_in_idle() -> None:
    t = table()
    assert t.admit("a", 0.0) == Admission(True)
    assert t.state("a") is State.IDLE and len(t) == 1


@pytest.mark.parametrize(
    ("states", "evicted", "evicted_state"),
    [
        # a, b, c opened in that order, then set to these states; d arrives at the cap.
        ({"a": State.IDLE, "b": State.IDLE, "c": State.IDLE}, "a", State.IDLE),
        ({"a": State.HANDLING, "b": State.IDLE, "c": State.IDLE}, "b", State.IDLE),
        ({"a": State.READING, "b": State.HANDLING, "c": State.IDLE}, "c", State.IDLE),
        ({"a": State.HANDLING, "b": State.READING, "c": State.READING}, "b", State.READING),
    ],
)
def test_at_the_cap_the_oldest_idle_then_the_oldest_reading_makes_room(
    states: dict[str, State], evicted: str, evicted_state: State
) -> None:
    t = table()
    for i, (key, state) in enumerate(states.items()):
        t.admit(key, float(i))
        t.set_state(key, state, float(i))
    admission = t.admit("d", 10.0)
    assert admission == Admission(True, evicted, evicted_state)
    assert evicted not in t and t.state("d") is State.IDLE and len(t) == 3


def test_at_the_cap_with_every_connection_answered_the_new_one_is_refused() -> None:
    t = table(cap=2)
    for key in ("a", "b"):
        t.admit(key, 0.0)
        t.set_state(key, State.HANDLING, 0.0)
    assert t.admit("c", 1.0) == Admission(False)
    assert "c" not in t and len(t) == 2


def test_the_oldest_idle_is_by_when_it_became_idle_not_when_it_connected() -> None:
    t = table(cap=2)
    t.admit("a", 0.0)
    t.admit("b", 1.0)
    t.set_state("a", State.HANDLING, 2.0)
    t.set_state("a", State.IDLE, 3.0)  # answered, kept alive: idle since 3
    assert t.admit("c", 4.0).evicted == "b"


def test_idle_connections_past_the_head_timeout_expire_oldest_first() -> None:
    t = table(cap=10, head_timeout=15.0)
    t.admit("a", 0.0)
    t.admit("b", 5.0)
    t.admit("reading", 0.0)
    t.set_state("reading", State.READING, 0.0)
    t.admit("handling", 0.0)
    t.set_state("handling", State.HANDLING, 0.0)
    assert t.expired(14.9) == []
    assert t.expired(15.0) == ["a"]
    assert t.expired(100.0) == ["b"]  # reading and handling ones never expire here
    assert len(t) == 2 and "a" not in t


def test_a_request_resets_the_idle_time() -> None:
    t = table(head_timeout=15.0)
    t.admit("a", 0.0)
    t.set_state("a", State.HANDLING, 10.0)
    t.set_state("a", State.IDLE, 12.0)
    assert t.expired(20.0) == []
    assert t.expired(27.0) == ["a"]


def test_a_closed_or_evicted_connection_is_ignored_afterwards() -> None:
    t = table(cap=1)
    t.admit("a", 0.0)
    assert t.admit("b", 1.0).evicted == "a"
    t.set_state("a", State.HANDLING, 2.0)  # its handler ends after the eviction
    t.forget("a")
    assert "a" not in t and t.counts() == {State.IDLE: 1, State.READING: 0, State.HANDLING: 0}
    t.forget("b")
    assert len(t) == 0


@pytest.mark.parametrize(
    ("nofile", "cap"),
    [(1024, 128), (4096, 128), (512, 64), (256, 32), (128, 16), (16, 4), (1 << 20, 128)],
)
def test_the_cap_is_an_eighth_of_the_descriptors_at_most_128(nofile: int, cap: int) -> None:
    assert connection_cap(nofile) == cap
    limits = ConnectionLimits(max_connections=cap)
    # The cap plus the listen backlog (what asyncio may accept in one go): at most a quarter of them.
    assert cap + limits.backlog <= max(nofile // 4, 8)
