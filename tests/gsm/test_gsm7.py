"""The GSM-7 alphabet and septet packing (3GPP TS 23.038)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspisms_daemon.errors import PduError
from raspisms_daemon.gsm import gsm7

EXTENSION_CHARS = "\f^{}\\[~]|€"


def test_basic_table_characters_take_one_septet_each() -> None:
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà"
    assert gsm7.septet_length(text) == len(text)
    assert gsm7.decode_septets(gsm7.encode_septets(text)) == text


def test_well_known_septet_values() -> None:
    assert gsm7.encode_septets("@") == [0x00]
    assert gsm7.encode_septets("£$") == [0x01, 0x02]
    assert gsm7.encode_septets("A") == [0x41]
    assert gsm7.encode_septets("\n") == [0x0A]
    assert gsm7.encode_septets("à") == [0x7F]


def test_extension_characters_are_escape_pairs() -> None:
    assert gsm7.encode_septets("€") == [0x1B, 0x65]
    assert gsm7.encode_septets("[]") == [0x1B, 0x3C, 0x1B, 0x3E]
    assert gsm7.septet_length(EXTENSION_CHARS) == 2 * len(EXTENSION_CHARS)
    assert gsm7.decode_septets(gsm7.encode_septets(EXTENSION_CHARS)) == EXTENSION_CHARS


def test_characters_outside_gsm7_are_refused_not_approximated() -> None:
    for ch in ("ç", "Ê", "😀", "\x00", "`", "ı"):
        assert not gsm7.is_gsm7(ch)
        with pytest.raises(PduError):
            gsm7.encode_septets(ch)
        with pytest.raises(PduError):
            gsm7.septet_length("a" + ch)


def test_escape_before_unknown_code_shows_the_basic_character() -> None:
    # TS 23.038 §6.2.1.1: an unknown extension code displays as the default-table character.
    assert gsm7.decode_septets([0x1B, 0x41]) == "A"


def test_trailing_lone_escape_and_double_escape_show_a_space() -> None:
    assert gsm7.decode_septets([0x41, 0x1B]) == "A "
    assert gsm7.decode_septets([0x1B, 0x1B, 0x41]) == " A"


def test_pack_hellohello_matches_the_textbook_example() -> None:
    packed = gsm7.pack_septets(gsm7.encode_septets("hellohello"))
    assert packed.hex().upper() == "E8329BFD4697D9EC37"


def test_pack_with_start_offset_leaves_room_for_a_header() -> None:
    # 6-octet UDH = 48 bits -> text starts at septet 7 (one fill bit).
    packed = gsm7.pack_septets([0x7F], start=7)
    assert len(packed) == 7
    assert packed[:6] == b"\x00" * 6
    assert packed[6] == 0xFE  # septet 0x7F shifted past the single fill bit


def test_unpack_refuses_data_too_short_for_the_count() -> None:
    with pytest.raises(PduError):
        gsm7.unpack_septets(b"\x00", 3)


@given(st.lists(st.integers(0, 127), max_size=200), st.integers(0, 10))
def test_pack_unpack_round_trip(septets: list[int], start: int) -> None:
    packed = gsm7.pack_septets(septets, start)
    assert len(packed) == ((start + len(septets)) * 7 + 7) // 8
    assert gsm7.unpack_septets(packed, start + len(septets), start) == septets


def test_national_tables_are_chosen_by_their_identifiers() -> None:
    # Turkish (1): ı and Ş are in the locking table, Ğ behind the escape of the single shift table.
    assert gsm7.encode_septets("ı", locking=1) == [0x07]
    assert gsm7.encode_septets("Ğ", single=1) == [0x1B, 0x47]
    assert gsm7.decode_septets([0x07, 0x1B, 0x47], locking=1, single=1) == "ıĞ"
    assert not gsm7.is_gsm7("ı") and gsm7.is_gsm7("ı", locking=1)
    # The locking table replaces the default one: è is not Turkish.
    assert not gsm7.is_gsm7("è", locking=1) and gsm7.is_gsm7("è", single=1)


def test_a_character_in_both_tables_takes_one_septet() -> None:
    # Portuguese holds € in its locking table and behind the escape: the short form wins.
    assert gsm7.char_septets("€", locking=3, single=3) == 1
    assert gsm7.char_septets("€", single=3) == 2


def test_identifiers_without_a_table_are_known_as_such() -> None:
    assert gsm7.has_tables(0, 0) and gsm7.has_tables(1, 13) and gsm7.has_tables(0, 2)
    assert not gsm7.has_tables(2, 0)  # Spanish has no locking table
    assert not gsm7.has_tables(0, 14) and not gsm7.has_tables(99, 0)
    # Decoding with them reads the default alphabet rather than failing.
    assert gsm7.decode_septets([0x41, 0x1B, 0x65], locking=99, single=99) == "A€"
