from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from raspisms_daemon.gsm.pdu import DeliverPdu, decode, encode_deliver
from raspisms_daemon.phones.multipart import Outcome, Part, add_part, assemble


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
    assert assemble({s: Part(t) for s, t in stored.items()}) == "<1><2><3><4><5>"


def test_an_incomplete_message_is_its_parts_that_arrived_in_order() -> None:
    assert assemble({3: Part("c"), 1: Part("a")}) == "ac"


def _parts(text: str) -> dict[int, Part]:
    out = {}
    for hex_pdu in encode_deliver("+33612345678", text, scts=datetime(2026, 1, 2, tzinfo=UTC), concat_ref=9):
        msg = decode(hex_pdu)
        assert isinstance(msg, DeliverPdu) and msg.concat is not None
        out[msg.concat.seq] = Part(msg.text, msg.encoding, msg.data)
    return out


def split_by_hand(units: list[bytes], sizes: list[int], encoding: str) -> dict[int, Part]:
    """Parts cut where a careless sender would: ``sizes`` code units each, whatever they split."""
    parts, pos = {}, 0
    for seq, size in enumerate(sizes, 1):
        data = b"".join(units[pos : pos + size])
        pos += size
        text = data.decode("utf-16-be", errors="replace") if encoding == "ucs2" else ""
        parts[seq] = Part(text, encoding, data)
    return parts


def test_a_surrogate_pair_split_between_two_parts_decodes_whole() -> None:
    text = "a" * 66 + "😀" + "b"  # the emoji's two UTF-16 units land in parts 1 and 2
    raw = text.encode("utf-16-be")
    units = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    parts = split_by_hand(units, [67, len(units) - 67], "ucs2")
    assert "\ufffd" in parts[1].text + parts[2].text  # each part alone cannot say it
    assert assemble(parts) == text


def test_a_gsm7_escape_split_between_two_parts_decodes_whole() -> None:
    septets = [0x61] * 152 + [0x1B, 0x65] + [0x62]  # "a"*152, then € (escape + 0x65), then "b"
    parts = {1: Part("", "gsm7", bytes(septets[:153])), 2: Part("", "gsm7", bytes(septets[153:]))}
    assert assemble(parts) == "a" * 152 + "€b"


def test_parts_of_a_real_long_message_assemble_to_its_text() -> None:
    text = "Grüße 👋 " * 40
    assert assemble(_parts(text)) == text


def test_a_gap_keeps_the_parts_on_either_side_apart() -> None:
    parts = _parts("ж" * 200)  # UCS-2: 67 + 67 + 66
    del parts[2]
    assert assemble(parts) == "ж" * 67 + "ж" * 66


def test_parts_without_user_data_are_joined_by_their_text() -> None:
    assert assemble({1: Part("ab"), 2: Part("c", "8bit", b"\x01")}) == "abc"
