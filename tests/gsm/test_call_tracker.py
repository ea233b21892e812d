"""The call tracker, step by step: what each URC, deadline and AT+CLCC answer makes it do next."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from raspisms_daemon.gsm.call_tracker import CALL_URCS, AskClcc, CallAction, CallTracker
from raspisms_daemon.gsm.modem import CallEnded, CallRinging

Step = Callable[[CallTracker], list[CallAction] | list[CallEnded] | None]
NUMBER = "+33611223344"
CLIP = f'"{NUMBER}",145,,,,0'
LISTED = (f'+CLCC: 1,1,4,0,0,"{NUMBER}",145',)


def urc(name: str, at: float, args: str = "") -> Step:
    return lambda tracker: tracker.urc(name, args, at)


def passed(at: float) -> Step:
    return lambda tracker: tracker.deadline_passed(at)


def clcc(lines: tuple[str, ...] | None) -> Step:
    return lambda tracker: tracker.clcc_answered(lines)


def hangup() -> Step:
    return lambda tracker: tracker.hung_up()


RINGING = CallRinging(NUMBER)
HIDDEN = CallRinging(None)
ENDED = CallEnded()

# Each step: what the backend does, what the tracker answers, and its deadline afterwards
# (ring_gap 8 s, clip_wait 1 s).
CASES: dict[str, list[tuple[Step, list[object], float | None]]] = {
    "RING then +CLIP within a second: one ringing, with the number": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.4, CLIP), [RINGING], 8.0),
    ],
    "+CRING is a RING": [
        (urc("+CRING", 0.0, "VOICE"), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
    ],
    "RING without +CLIP: ringing without a number once the wait is over": [
        (urc("RING", 0.0), [], 1.0),
        (passed(0.99), [], 1.0),  # woke up early: nothing yet
        (passed(1.0), [HIDDEN], 8.0),
    ],
    "repeated RINGs: one ringing each, the number kept for the call": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (urc("RING", 3.0), [], 4.0),
        (passed(4.0), [RINGING], 11.0),
        (urc("RING", 6.0), [], 7.0),
        (urc("+CLIP", 6.1, CLIP), [RINGING], 14.0),
    ],
    "a RING that follows a RING still waiting for its +CLIP reports the first one": [
        (urc("RING", 0.0), [], 1.0),
        (urc("RING", 0.5), [HIDDEN], 1.5),
        (urc("+CLIP", 0.6, CLIP), [RINGING], 8.5),
    ],
    "a +CLIP after the wait is over names the caller from the next RING on": [
        (urc("RING", 0.0), [], 1.0),
        (passed(1.0), [HIDDEN], 8.0),
        (urc("+CLIP", 1.5, CLIP), [], 8.0),
        (urc("RING", 3.0), [], 4.0),
        (passed(4.0), [RINGING], 11.0),
    ],
    "a withheld number": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.2, '"",128'), [HIDDEN], 8.0),
    ],
    "NO CARRIER ends the call": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (urc("NO CARRIER", 2.0), [ENDED], None),
    ],
    "^CEND ends the call": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (urc("^CEND", 2.0, "1,0,104,16"), [ENDED], None),
    ],
    "BUSY and NO ANSWER end the call": [
        (urc("RING", 0.0), [], 1.0),
        (urc("BUSY", 0.5), [HIDDEN, ENDED], None),
        (urc("RING", 10.0), [], 11.0),
        (urc("NO ANSWER", 10.5), [HIDDEN, ENDED], None),
    ],
    "an end of call without a call is still reported": [
        (urc("NO CARRIER", 0.0), [ENDED], None),
    ],
    "the number of one call is never shown for the next": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (urc("NO CARRIER", 2.0), [ENDED], None),
        (urc("RING", 20.0), [], 21.0),
        (passed(21.0), [HIDDEN], 28.0),
    ],
    "silence, then AT+CLCC lists no call: ended": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (passed(7.9), [], 8.0),
        (passed(8.0), [AskClcc()], 8.0),
        (clcc(()), [ENDED], None),
        (passed(100.0), [], None),
    ],
    "AT+CLCC lists the call: keep waiting, ask again a gap later": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (passed(8.0), [AskClcc()], 8.0),
        (clcc(LISTED), [], 16.0),
        (passed(16.0), [AskClcc()], 16.0),
        (clcc(()), [ENDED], None),
    ],
    "AT+CLCC got no answer: keep waiting": [
        (urc("RING", 0.0), [], 1.0),
        (passed(1.0), [HIDDEN], 8.0),
        (passed(8.0), [AskClcc()], 8.0),
        (clcc(None), [], 16.0),
    ],
    "a RING after a CLCC check starts a new gap": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (passed(8.0), [AskClcc()], 8.0),
        (clcc(LISTED), [], 16.0),
        (urc("RING", 9.0), [], 10.0),
        (urc("+CLIP", 9.1, CLIP), [RINGING], 17.0),
    ],
    "hangup: nothing more for that call, not even a late CLCC answer": [
        (urc("RING", 0.0), [], 1.0),
        (urc("+CLIP", 0.1, CLIP), [RINGING], 8.0),
        (passed(8.0), [AskClcc()], 8.0),
        (hangup(), [], None),
        (clcc(()), [], None),
        (passed(9.0), [], None),
    ],
    "hangup while a RING waits for its +CLIP drops that RING": [
        (urc("RING", 0.0), [], 1.0),
        (hangup(), [], None),
        (passed(1.0), [], None),
    ],
}


@pytest.mark.parametrize("steps", list(CASES.values()), ids=list(CASES))
def test_call_tracking(steps: list[tuple[Step, list[object], float | None]]) -> None:
    tracker = CallTracker(ring_gap=8.0, clip_wait=1.0)
    for n, (step, actions, deadline) in enumerate(steps):
        assert (step(tracker) or [], tracker.deadline()) == (actions, deadline), f"step {n}"


def test_a_urc_that_is_not_about_calls_is_refused() -> None:
    assert "+CMTI" not in CALL_URCS
    with pytest.raises(ValueError, match="CMTI"):
        CallTracker().urc("+CMTI", '"SM",3', 0.0)
