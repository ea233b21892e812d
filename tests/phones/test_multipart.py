from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from raspisms_daemon.phones.multipart import Outcome, add_part, assemble, is_expired


def test_a_part_completes_the_message_only_when_every_sequence_number_is_in() -> None:
    assert add_part({}, 1, 3, "a") is Outcome.STORED
    assert add_part({1: "a"}, 3, 3, "c") is Outcome.STORED
    assert add_part({1: "a", 3: "c"}, 2, 3, "b") is Outcome.COMPLETE


def test_a_part_seen_twice_is_a_duplicate_even_when_it_would_complete() -> None:
    assert add_part({1: "a"}, 1, 2, "a") is Outcome.DUPLICATE


def test_a_stored_sequence_number_with_another_text_is_a_new_message_reusing_the_reference() -> None:
    assert add_part({1: "a"}, 1, 2, "other") is Outcome.CLASH


def test_out_of_range_parts_do_not_count_towards_completion() -> None:
    assert add_part({7: "x"}, 1, 2, "a") is Outcome.STORED
    assert add_part({1: "a"}, 7, 2, "x") is Outcome.STORED  # nor does a new one


@given(st.permutations(list(range(1, 6))))
def test_parts_in_any_order_assemble_to_the_text_in_sequence_order(order: list[int]) -> None:
    texts = {s: f"<{s}>" for s in range(1, 6)}
    stored: dict[int, str] = {}
    outcomes = []
    for seq in order:
        outcomes.append(add_part(stored, seq, 5, texts[seq]))
        stored[seq] = texts[seq]
    assert outcomes[:-1] == [Outcome.STORED] * 4 and outcomes[-1] is Outcome.COMPLETE
    assert assemble(stored) == "<1><2><3><4><5>"


def test_an_incomplete_message_expires_after_the_timeout_from_its_first_part() -> None:
    assert not is_expired(1000.0, 1000.0 + 86399, 86400)
    assert is_expired(1000.0, 1000.0 + 86400, 86400)
    assert assemble({3: "c", 1: "a"}) == "ac"
