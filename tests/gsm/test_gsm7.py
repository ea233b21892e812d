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
