"""When an incoming call rings and ends, from the AT backend's URCs (sans-I/O).

Modems announce a call with ``RING``/``+CRING`` every few seconds, name the caller in a ``+CLIP`` that
follows each RING (or not: withheld numbers, modems with ``AT+CLIP=0``), and end it with ``NO CARRIER``,
``^CEND``, ``BUSY`` or ``NO ANSWER`` — or with nothing at all when the caller gives up before anyone
answers. :class:`CallTracker` turns that into one :class:`~.modem.CallRinging` per RING (with the number
when it comes in time) and one :class:`~.modem.CallEnded`, and says when to ask ``AT+CLCC``.

It never waits and never reads a clock: the backend feeds it URCs with the current time, sleeps until
:meth:`CallTracker.deadline`, reports that the deadline passed, and runs what comes back (emit an
event, or ask ``AT+CLCC`` and pass the answer to :meth:`CallTracker.clcc_answered`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .at_protocol import parse_clip
from .modem import CallEnded, CallRinging

__all__ = ["CALL_URCS", "CLIP_WAIT", "RING_GAP", "AskClcc", "CallAction", "CallTracker"]

CLIP_WAIT = 1.0  # how long a RING waits for the +CLIP that names the caller
# A ringing call rings every few seconds. After this long without a RING, AT+CLCC tells whether it is
# still there: many modems print nothing when the caller gives up before anyone answers.
RING_GAP = 8.0

_RING_URCS = frozenset({"RING", "+CRING"})
_END_URCS = frozenset({"NO CARRIER", "^CEND", "BUSY", "NO ANSWER"})
CALL_URCS = _RING_URCS | _END_URCS | {"+CLIP"}


@dataclass(frozen=True)
class AskClcc:
    """Ask ``AT+CLCC`` whether the call is still there; hand the answer to ``clcc_answered``."""


CallAction = CallRinging | CallEnded | AskClcc


class CallTracker:
    """The state of the one incoming call a modem can have."""

    def __init__(self, *, ring_gap: float = RING_GAP, clip_wait: float = CLIP_WAIT) -> None:
        self._ring_gap = ring_gap
        self._clip_wait = clip_wait
        self._last_ring: float | None = None  # time of the last RING of a call not yet ended
        self._waiting_clip = False  # that RING is not reported yet: it waits for its +CLIP
        self._number: str | None = None

    def deadline(self) -> float | None:
        """When :meth:`deadline_passed` is due; None while no call rings."""
        if self._last_ring is None:
            return None
        return self._last_ring + (self._clip_wait if self._waiting_clip else self._ring_gap)

    def urc(self, name: str, args: str, now: float) -> list[CallAction]:
        """A URC of :data:`CALL_URCS` arrived at ``now``."""
        if name in _RING_URCS:
            actions: list[CallAction] = [*self._report_ring()]  # the previous RING got no +CLIP in time
            self._waiting_clip = True
            self._last_ring = now
            return actions
        if name == "+CLIP":
            self._number = parse_clip(args)
            return [*self._report_ring()]
        if name in _END_URCS:
            return [*self._report_ring(), *self._end()]
        raise ValueError(f"not a call URC: {name!r}")

    def deadline_passed(self, now: float) -> list[CallAction]:
        """The backend slept until :meth:`deadline`; ``now`` is its clock (early wake-ups do nothing)."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        if self._waiting_clip:
            return [*self._report_ring()]  # no +CLIP: the number stays what it was (None for a new call)
        return [AskClcc()]

    def clcc_answered(self, lines: Sequence[str] | None) -> list[CallEnded]:
        """``AT+CLCC``'s info lines; ``()`` when refused (unsupported: the silence says enough), None
        when it got no answer (a busy modem: ask again later)."""
        if self._last_ring is None:
            return []  # hung up while we asked
        if lines is None or any(line.upper().startswith("+CLCC:") for line in lines):
            self._last_ring += self._ring_gap  # still there (ringing, or answered elsewhere)
            return []
        return self._end()

    def hung_up(self) -> None:
        """We hung up: the modem reports no end for that, and nothing more is reported for the call."""
        self._end()

    def _report_ring(self) -> list[CallRinging]:
        if not self._waiting_clip:
            return []
        self._waiting_clip = False
        return [CallRinging(self._number)]

    def _end(self) -> list[CallEnded]:
        self._number = None  # the next caller may withhold the number: never show this one
        self._last_ring = None
        self._waiting_clip = False
        return [CallEnded()]
