"""Which API connections to close: at most ``cap`` open at once, none idle for longer than the head
timeout. Pure: the caller passes the time and closes what this names (:mod:`.guard` does the I/O).

A connection is, at any time, one of:

- idle: no request being answered: it has not sent a complete request head yet (a new connection, a
  slowloris one) or is kept alive between requests. It may stay so ``head_timeout`` seconds.
- reading: a request head came and its handler waits for the body (bounded by the handler's own
  body timeout).
- handling: the handler works on a complete request. Never closed here.

At the cap, a new connection is let in by closing the idle connection idle the longest, else the one
reading a body the longest; when every connection is being answered, the new one is refused. So a
flood of half-open connections cannot lock out a client that sends its request at once (``/healthz``):
the flood's oldest connections make room for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from enum import Enum
from typing import Generic, NamedTuple, TypeVar

__all__ = ["Admission", "ConnectionTable", "State"]

K = TypeVar("K", bound=Hashable)


class State(Enum):
    IDLE = "idle"
    READING = "reading"
    HANDLING = "handling"


class Admission(NamedTuple, Generic[K]):
    admitted: bool
    evicted: K | None = None  # to close now, to make room (only when admitted)
    evicted_state: State | None = None


class ConnectionTable(Generic[K]):
    def __init__(self, cap: int, head_timeout: float) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        self.cap = cap
        self.head_timeout = head_timeout
        # Each ordered by when the connection entered that state, oldest first.
        self._idle: OrderedDict[K, float] = OrderedDict()
        self._reading: OrderedDict[K, float] = OrderedDict()
        self._handling: set[K] = set()

    def __len__(self) -> int:
        return len(self._idle) + len(self._reading) + len(self._handling)

    def __contains__(self, key: object) -> bool:
        return key in self._idle or key in self._reading or key in self._handling

    def state(self, key: K) -> State | None:
        if key in self._idle:
            return State.IDLE
        if key in self._reading:
            return State.READING
        return State.HANDLING if key in self._handling else None

    def counts(self) -> dict[State, int]:
        return {
            State.IDLE: len(self._idle),
            State.READING: len(self._reading),
            State.HANDLING: len(self._handling),
        }

    def admit(self, key: K, now: float) -> Admission[K]:
        """A new connection: in (idle), in by evicting another, or refused."""
        evicted: K | None = None
        evicted_state: State | None = None
        if len(self) >= self.cap:
            for state, queue in ((State.IDLE, self._idle), (State.READING, self._reading)):
                if queue:
                    evicted, _ = queue.popitem(last=False)
                    evicted_state = state
                    break
            else:
                return Admission(False)
        self._idle[key] = now
        return Admission(True, evicted, evicted_state)

    def set_state(self, key: K, state: State, now: float) -> None:
        """A known connection changes state (an unknown one, already closed or evicted, is ignored)."""
        if key not in self:
            return
        self.forget(key)
        if state is State.IDLE:
            self._idle[key] = now
        elif state is State.READING:
            self._reading[key] = now
        else:
            self._handling.add(key)

    def forget(self, key: K) -> None:
        """The connection closed."""
        self._idle.pop(key, None)
        self._reading.pop(key, None)
        self._handling.discard(key)

    def expired(self, now: float) -> list[K]:
        """The idle connections past ``head_timeout``, oldest first; they are forgotten (close them)."""
        out: list[K] = []
        while self._idle:
            key, since = next(iter(self._idle.items()))
            if now - since < self.head_timeout:
                break
            del self._idle[key]
            out.append(key)
        return out
