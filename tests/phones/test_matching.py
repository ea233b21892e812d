from __future__ import annotations

import pytest

from raspisms_daemon.phones.matching import MATCH_WINDOW, Candidate, pick_candidate, same_number


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("+33612345678", "+33612345678", True),
        ("+33612345678", "0612345678", True),
        ("0612345678", "33612345678", True),
        ("+33612345678", "+33612345679", False),
        ("+33612345678", "0712345678", False),
        ("1234", "+331234", False),  # short codes need MIN_SUFFIX digits to match by suffix
        ("SIMNET", "simnet", True),
        ("SIMNET", "+33612345678", False),
    ],
)
def test_same_number_compares_national_and_international_spellings(a: str, b: str, same: bool) -> None:
    assert same_number(a, b) is same
    assert same_number(b, a) is same


def test_pick_candidate_prefers_the_most_recent_pending_part_of_that_number() -> None:
    now = 10_000_000.0
    cands = [
        Candidate(1, "+33612345678", now - 100, "pending"),
        Candidate(2, "+33612345678", now - 50, "delivered"),
        Candidate(3, "+33699999999", now - 10, "pending"),
        Candidate(4, "0612345678", now - 70, "pending"),
    ]
    assert pick_candidate(cands, "+33612345678", now) == cands[3]


def test_pick_candidate_falls_back_to_a_final_part_and_ignores_the_out_of_window_ones() -> None:
    now = 10_000_000.0
    old = Candidate(1, "+33612345678", now - MATCH_WINDOW - 1, "pending")
    final = Candidate(2, "+33612345678", now - 5, "delivered")
    assert pick_candidate([old, final], "+33612345678", now) == final
    assert pick_candidate([old], "+33612345678", now) is None
    assert pick_candidate([], "+33612345678", now) is None
