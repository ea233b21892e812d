"""The PDU codec: public vectors, field-level behaviours, and hypothesis round-trip properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspisms_daemon.errors import PduError
from raspisms_daemon.gsm.pdu import (
    UNKNOWN_TIME,
    Concat,
    DeliverPdu,
    StatusReportPdu,
    SubmitPdu,
    decode,
    decode_user_data,
    encode_deliver,
    encode_status_report,
    encode_submit,
    split_text,
    status_outcome,
)

DATA = Path(__file__).resolve().parents[1] / "data"
VECTORS: list[dict[str, Any]] = json.loads((DATA / "pdu_vectors.json").read_text(encoding="utf-8"))["vectors"]
TYPES = {"deliver": DeliverPdu, "submit": SubmitPdu, "status_report": StatusReportPdu}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Concat):
        return {"ref": value.ref, "total": value.total, "seq": value.seq}
    return value


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_public_vector_decodes_to_every_expected_field(vector: dict[str, Any]) -> None:
    msg = decode(vector["hex"])
    expect = dict(vector["expect"])
    assert isinstance(msg, TYPES[expect.pop("type")])
    for key, value in expect.items():
        assert _plain(getattr(msg, key)) == value, key


def test_vectors_file_is_not_empty() -> None:
    assert len(VECTORS) >= 5


# ---------------------------------------------------------------------------------------------- decode

UTC2 = timezone(timedelta(hours=2))
SCTS = datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC2)
STAMP = bytes.fromhex("42103020000000")  # 2024-01-03 02:00:00 +00:00, as swapped semi-octets


def test_decode_accepts_bytes_and_hex_with_whitespace() -> None:
    hexpdu = VECTORS[0]["hex"]
    spaced = " ".join(hexpdu[i : i + 2] for i in range(0, len(hexpdu), 2))
    assert decode(bytes.fromhex(hexpdu)) == decode(hexpdu) == decode(spaced)


def test_decode_without_smsc_part() -> None:
    hexpdu = "0001000B917228001011F100000CC8329BFD065DDF72363904"
    msg = decode(hexpdu[2:], smsc=False)
    assert isinstance(msg, SubmitPdu)
    assert msg.smsc is None
    assert msg.text == "Hello World!"
    assert msg.cmgs_length == 24


def test_trailing_ff_padding_is_ignored() -> None:
    hexpdu = VECTORS[0]["hex"]
    assert decode(hexpdu + "FF" * 20) == decode(hexpdu)


def test_submit_cmgs_length_excludes_padding() -> None:
    part = encode_submit("+33612345678", "hi")[0]
    msg = decode(part.hex + "FFFF")
    assert isinstance(msg, SubmitPdu)
    assert msg.cmgs_length == part.tpdu_length


def test_negative_quarter_hour_zone_is_kept() -> None:
    when = datetime(2031, 12, 31, 1, 2, 3, tzinfo=timezone(-timedelta(hours=3, minutes=45)))
    msg = decode(encode_deliver("+1555", "x", scts=when)[0])
    assert isinstance(msg, DeliverPdu)
    assert msg.scts == when
    assert msg.scts.utcoffset() == -timedelta(hours=3, minutes=45)
    assert msg.scts.isoformat() == "2031-12-31T01:02:03-03:45"


def test_timezone_sign_bit_is_bit_3_of_the_zone_octet() -> None:
    hexpdu = encode_deliver("+1555", "x", scts=datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=-8))))[0]
    raw = bytes.fromhex(hexpdu)
    # 8 hours = 32 quarters -> swapped semi-octets 0x23, sign bit 0x08 -> 0x2B
    assert raw[-9:-2] == bytes.fromhex("02101000000000"[:12] + "2B")  # SCTS, then UDL and one octet of UD


def test_alphanumeric_sender_decodes_to_its_text() -> None:
    msg = decode(encode_deliver("MyBank €", "code 1234", scts=SCTS)[0])
    assert isinstance(msg, DeliverPdu)
    assert msg.number == "MyBank €"
    assert bytes.fromhex(encode_deliver("Google", "x", scts=SCTS)[0])[10] == 0xD0


def test_alphanumeric_sender_known_encoding() -> None:
    # "Google": 6 septets = 42 bits = 11 semi-octets, type D0, packed C7 F7 FB CC 2E 03 (worked by hand).
    hexpdu = "00" + "04" + "0BD0C7F7FBCC2E03" + "0000" + "42103020000000" + "01" + "31"
    msg = decode(hexpdu)
    assert isinstance(msg, DeliverPdu)
    assert msg.number == "Google"
    assert msg.text == "1"
    assert "0BD0C7F7FBCC2E03" in encode_deliver("Google", "1", scts=SCTS)[0]


def test_national_and_unknown_numbers_are_plain_digits() -> None:
    msg = decode(encode_status_report(1, "0612345678", status=0, scts=SCTS, discharge=SCTS))
    assert isinstance(msg, StatusReportPdu)
    assert msg.number == "0612345678"
    assert bytes.fromhex(encode_submit("0612345678", "x")[0].hex)[4] == 0x81
    assert bytes.fromhex(encode_submit("+33612345678", "x")[0].hex)[4] == 0x91


def test_flash_message_sets_class_0() -> None:
    part = encode_submit("+33612345678", "alert", flash=True)[0]
    msg = decode(part.hex)
    assert isinstance(msg, SubmitPdu)
    assert msg.flash and msg.dcs == 0x10
    ucs = decode(encode_submit("+33612345678", "alerte ☃", flash=True)[0].hex)
    assert isinstance(ucs, SubmitPdu)
    assert ucs.flash and ucs.dcs == 0x18 and ucs.text == "alerte ☃"


def test_eight_bit_deliver_has_empty_text_and_raw_data() -> None:
    tpdu = bytes([0x04, 0x04, 0x91, 0x21, 0x43, 0x00, 0x04]) + STAMP + b"\x03\x01\x02\xff"
    msg = decode(b"\x00" + tpdu)
    assert isinstance(msg, DeliverPdu)
    assert msg.encoding == "8bit"
    assert msg.text == ""
    assert msg.data == b"\x01\x02\xff"
    assert msg.number == "+1234"


def test_ucs2_lone_surrogate_decodes_to_replacement_not_error() -> None:
    ud = "D83D0041"  # high surrogate then "A"
    hexpdu = "00" + "0004912143" + "0008" + "42103020000000" + "04" + ud
    msg = decode(hexpdu)
    assert isinstance(msg, DeliverPdu)
    assert msg.text == "\ufffdA"


def test_gsm7_udh_fill_bits_and_concat_8bit() -> None:
    parts = encode_deliver("+33600000000", "A" * 161, scts=SCTS, concat_ref=0x1A2)
    assert len(parts) == 2
    first = decode(parts[0])
    assert isinstance(first, DeliverPdu)
    assert first.concat == Concat(ref=0x1A2, total=2, seq=1)
    assert first.udh == bytes([6, 0x08, 4, 0x01, 0xA2, 2, 1])
    # 7 header octets = 56 bits = 8 septets exactly (no fill); 152 text septets follow.
    assert first.text == "A" * 152
    parts8 = encode_submit("+33600000000", "B" * 161, concat_ref=7)
    p1 = decode(parts8[0].hex)
    assert isinstance(p1, SubmitPdu)
    assert p1.udh == bytes([5, 0x00, 3, 7, 2, 1])
    raw = bytes.fromhex(parts8[0].hex)
    ud = raw[-140:]
    assert ud[:6] == p1.udh
    # 6 header octets = 48 bits; 1 fill bit brings the text to septet 7: 'B' (0x42) << 1 = 0x84.
    assert ud[6] == 0x84
    assert raw[-141] == 160  # UDL counts header septets too: 7 + 153


def test_decode_udh_with_other_information_elements_before_concat() -> None:
    udh = bytes([0x0A, 0x24, 0x01, 0x00, 0x00, 0x03, 0x55, 0x03, 0x02, 0x00, 0x00])  # national lang + concat
    text = "ok".encode("utf-16-be")
    tpdu = bytes([0x44, 0x02, 0x81, 0x21, 0x00, 0x08]) + STAMP + bytes([len(udh) + len(text)])
    msg = decode(b"\x00" + tpdu + udh + text)
    assert isinstance(msg, DeliverPdu)
    assert msg.concat == Concat(ref=0x55, total=3, seq=2)
    assert msg.text == "ok"


def test_concat_with_sequence_zero_or_beyond_total_is_ignored() -> None:
    for seq, total in ((0, 2), (3, 2), (1, 0)):
        udh = bytes([5, 0, 3, 9, total, seq])
        tpdu = bytes([0x44, 0x02, 0x81, 0x21, 0x00, 0x04]) + STAMP + bytes([7]) + udh + b"x"
        msg = decode(b"\x00" + tpdu)
        assert isinstance(msg, DeliverPdu)
        assert msg.concat is None
        assert msg.udh == udh


def test_decode_user_data_heals_a_split_escape_pair() -> None:
    assert decode_user_data("gsm7", b"ab\x1b" + b"\x65c") == "ab€c"
    assert decode_user_data("ucs2", "😀".encode("utf-16-be")) == "😀"
    assert decode_user_data("8bit", b"\x00\x01") == ""


# ---------------------------------------------------------------------------------------------- status

@pytest.mark.parametrize(
    ("status", "outcome"),
    [(0x00, "delivered"), (0x01, "delivered"), (0x02, "delivered"), (0x1F, "delivered"),
     (0x20, "pending"), (0x25, "pending"), (0x3F, "pending"),
     (0x40, "failed"), (0x41, "failed"), (0x5F, "failed"), (0x60, "failed"), (0x7F, "failed"),
     (0x80, "failed"), (0xFF, "failed")],
)
def test_tp_st_maps_to_outcome(status: int, outcome: str) -> None:
    assert status_outcome(status) == outcome
    msg = decode(encode_status_report(5, "+33612345678", status=status, scts=SCTS, discharge=SCTS))
    assert isinstance(msg, StatusReportPdu)
    assert (msg.status, msg.outcome, msg.mr) == (status, outcome, 5)


def test_status_report_round_trip_keeps_both_times() -> None:
    later = SCTS + timedelta(seconds=61)
    hexpdu = encode_status_report(255, "+4915112345678", status=0x30, scts=SCTS, discharge=later, smsc=None)
    msg = decode(hexpdu)
    assert msg == StatusReportPdu(
        smsc=None, first_octet=0x06, mr=255, number="+4915112345678", scts=SCTS, discharge=later,
        status=0x30, outcome="pending",
    )


# ---------------------------------------------------------------------------------------------- submit

def test_submit_first_octet_status_report_request_bit() -> None:
    with_report = encode_submit("+33612345678", "hi")[0]
    without = encode_submit("+33612345678", "hi", status_report=False)[0]
    assert with_report.hex.startswith("0021")
    assert without.hex.startswith("0001")
    m = decode(with_report.hex)
    assert isinstance(m, SubmitPdu) and m.status_report_request and m.first_octet == 0x21


def test_submit_with_smsc_and_cmgs_length() -> None:
    part = encode_submit("+27820001111", "Hello World!", smsc="+27820000000", status_report=False)[0]
    assert part.hex == "07917228000000F0" + "01000B917228001011F100000CC8329BFD065DDF72363904"
    assert part.tpdu_length == 24
    m = decode(part.hex)
    assert isinstance(m, SubmitPdu) and m.smsc == "+27820000000" and m.cmgs_length == 24


def test_submit_matches_the_public_vector_byte_for_byte() -> None:
    part = encode_submit("+27820001111", "Hello World!", status_report=False)[0]
    assert part.hex == "0001000B917228001011F100000CC8329BFD065DDF72363904"


def test_validity_period_is_relative_and_sets_vpf() -> None:
    part = encode_submit("+33612345678", "x", validity_minutes=24 * 60)[0]
    raw = bytes.fromhex(part.hex)
    assert raw[1] == 0x31
    m = decode(part.hex)
    assert isinstance(m, SubmitPdu)
    assert m.validity == bytes([167])  # 24 h
    table = ((0, 0), (5, 0), (6, 1), (720, 143), (721, 144), (2 * 1440, 168), (63 * 7 * 1440, 255))
    for minutes, octet in table:
        m2 = decode(encode_submit("+1", "x", validity_minutes=minutes)[0].hex)
        assert isinstance(m2, SubmitPdu)
        assert m2.validity == bytes([octet]), minutes


@pytest.mark.parametrize(
    ("text", "encoding", "sizes"),
    [
        ("", "gsm7", [0]),
        ("a" * 160, "gsm7", [160]),
        ("a" * 161, "gsm7", [153, 8]),
        ("a" * 306, "gsm7", [153, 153]),
        ("a" * 307, "gsm7", [153, 153, 1]),
        ("€" * 80, "gsm7", [80]),
        ("€" * 81, "gsm7", [76, 5]),
        # an escape pair that does not fit in the last septet moves whole to the next part
        ("a" * 152 + "€" + "a" * 10, "gsm7", [152, 11]),
        ("é" * 70, "gsm7", [70]),
        ("ç" * 70, "ucs2", [70]),
        ("ç" * 71, "ucs2", [67, 4]),
        ("😀" * 35, "ucs2", [35]),
        ("😀" * 36, "ucs2", [33, 3]),
        # likewise a surrogate pair that does not fit in the last code unit
        ("ç" * 66 + "😀" + "ç" * 5, "ucs2", [66, 6]),
    ],
)
def test_split_text_chooses_the_encoding_and_part_sizes(text: str, encoding: str, sizes: list[int]) -> None:
    enc, chunks = split_text(text)
    assert enc == encoding
    assert [len(c) for c in chunks] == sizes
    assert "".join(chunks) == text


def test_split_text_sixteen_bit_reference_leaves_one_less() -> None:
    assert [len(c) for c in split_text("a" * 161, wide_ref=True)[1]] == [152, 9]
    assert [len(c) for c in split_text("ç" * 71, wide_ref=True)[1]] == [66, 5]
    assert [p.concat for p in encode_submit("+1", "a" * 161, concat_ref=256)] == [
        Concat(256, 2, 1), Concat(256, 2, 2)
    ]


@pytest.mark.parametrize(
    ("locking", "single", "alone", "part"),
    [(0, 0, 160, 153), (1, 0, 155, 149), (0, 1, 155, 149), (1, 1, 152, 146), (3, 3, 152, 146)],
)
def test_national_shift_elements_take_room_in_every_part(
    locking: int, single: int, alone: int, part: int
) -> None:
    # Each shift element takes 3 octets of the UDH (TS 23.040 §9.2.3.24.15-16).
    label = ";".join(["gsm7", *(f"{n}={v}" for n, v in (("locking", locking), ("single", single)) if v)])
    assert split_text("a" * alone, locking=locking, single=single) == (label, ["a" * alone])
    encoding, chunks = split_text("a" * (alone + 1), locking=locking, single=single)
    assert (encoding, [len(c) for c in chunks]) == (label, [part, alone + 1 - part])


def test_national_tables_save_parts_over_ucs2_and_round_trip() -> None:
    text = "Çalışma saatleri değişti: Şubat ayında İstanbul ofisi 09:00-18:00 açık. " * 4
    assert split_text(text)[0] == "ucs2"
    turkish = encode_deliver("+905321234567", text, scts=SCTS, concat_ref=7, locking=1, single=1)
    assert len(turkish) < len(encode_deliver("+905321234567", text, scts=SCTS, concat_ref=7))
    parts = [decode(hex_pdu) for hex_pdu in turkish]
    assert all(isinstance(p, DeliverPdu) and p.encoding == "gsm7;locking=1;single=1" for p in parts)
    assert "".join(p.text for p in parts if isinstance(p, DeliverPdu)) == text
    submit = encode_submit("+905321234567", text, locking=1, single=1)
    assert [p.encoding for p in submit] == ["gsm7;locking=1;single=1"] * len(turkish)


def test_national_tables_that_cannot_encode_the_text_give_way_to_the_default_then_ucs2() -> None:
    assert split_text("è", locking=1)[0] == "gsm7"  # not Turkish, but in the default alphabet
    assert split_text("ı😀", locking=1, single=1)[0] == "ucs2"
    with pytest.raises(PduError):
        split_text("x", locking=2)  # Spanish has no locking table


def test_concat_ref_wraps_to_one_octet_below_256() -> None:
    parts = encode_submit("+1", "a" * 200, concat_ref=255)
    assert parts[0].udh == bytes([5, 0, 3, 255, 2, 1])
    assert parts[1].concat == Concat(255, 2, 2)


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_submit("MyBank", "x"),
        lambda: encode_submit("", "x"),
        lambda: encode_submit("+" + "1" * 21, "x"),
        lambda: encode_submit("+33612345678", "x", smsc="operator"),
        lambda: encode_submit("+33612345678", "bad \ud800 surrogate"),
        lambda: encode_submit("+33612345678", "x" * (153 * 255 + 1)),
        lambda: encode_submit("+33612345678", "x", concat_ref=-1),
        lambda: encode_submit("+33612345678", "x", validity_minutes=-5),
        lambda: encode_deliver("+1", "x", scts=datetime(2020, 1, 1)),
        lambda: encode_deliver("+1", "x", scts=datetime(1999, 1, 1, tzinfo=UTC)),
        lambda: encode_deliver("+1", "x", scts=datetime(2020, 1, 1, tzinfo=timezone(timedelta(minutes=7)))),
        lambda: encode_deliver("Twelve chars", "x", scts=SCTS),
        lambda: encode_status_report(256, "+1", status=0, scts=SCTS, discharge=SCTS),
        lambda: encode_status_report(1, "+1", status=256, scts=SCTS, discharge=SCTS),
    ],
)
def test_unencodable_input_raises_pdu_error(call: Any) -> None:
    with pytest.raises(PduError):
        call()


@pytest.mark.parametrize(
    "bad",
    [
        "", "0", "zz", "00", "0004", "00FF",  # reserved MTI 3
        "0D91",  # SMSC length 13 > 12
        VECTORS[0]["hex"][:-4],  # truncated user data
        VECTORS[3]["hex"][:-2],  # status report without TP-ST
        "00" + "0004912143" + "0000" + "42103020000000" + "A1" + "00" * 160,  # UDL 161 septets
        "00" + "0004912143" + "0008" + "42103020000000" + "8D" + "00" * 141,  # UDL 141 octets
        "00" + "4004912143" + "0004" + "42103020000000" + "03" + "0A0000",  # UDH longer than UD
        "00" + "4004912143" + "0004" + "42103020000000" + "03" + "020003",  # IE runs past the UDH
        "00" + "0004912143" + "0000" + "42103020000000" + "05" + "41",  # UD cut short
    ],
)
def test_malformed_pdus_raise_pdu_error(bad: str) -> None:
    with pytest.raises(PduError):
        decode(bad)


UNKNOWN = UNKNOWN_TIME.isoformat()


@pytest.mark.parametrize(
    ("stamp", "scts", "problem"),
    [
        ("421030200000A0", "2024-01-03T02:00:00+00:00", "not BCD"),  # zone semi-octet 0xA: read as UTC
        ("42133020000000", UNKNOWN, "not a date"),  # month 31
        ("00000000000000", UNKNOWN, "not a date"),  # month 0, day 0
        ("4210302000F000", UNKNOWN, "non-decimal"),
    ],
)
def test_an_unreadable_timestamp_costs_the_time_not_the_message(stamp: str, scts: str, problem: str) -> None:
    msg = decode("00" + "0004912143" + "0000" + stamp + "01" + "41")
    assert isinstance(msg, DeliverPdu)
    assert (msg.text, msg.number, msg.scts.isoformat()) == ("A", "+1234", scts)
    assert len(msg.problems) == 1 and problem in msg.problems[0]


def test_a_udhi_bit_without_user_data_is_an_empty_message_without_header() -> None:
    msg = decode("00" + "4004912143" + "0000" + "42103020000000" + "00")
    assert isinstance(msg, DeliverPdu)
    assert (msg.text, msg.udh, msg.concat) == ("", None, None)
    assert msg.problems == ("the UDHI bit is set but there is no user data",)


def test_wrong_input_type_raises_pdu_error() -> None:
    with pytest.raises(PduError):
        decode(12345)  # type: ignore[arg-type]  # the wrong type on purpose: a PduError, not a TypeError


# ---------------------------------------------------------------------------------------------- properties

# The alphabet again, written out independently of gsm7.py, so the properties check the codec's choices.
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXT = set("\f^{}\\[~]|€")
assert len(GSM_BASIC) == 127 and len(GSM_EXT) == 10

texts = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=400),
    st.text(st.sampled_from(sorted(GSM_BASIC | GSM_EXT)), max_size=700),
    st.text(st.sampled_from([*sorted(GSM_BASIC | GSM_EXT), "😀", "ç", "🇫", "\U00010348"]), max_size=400),
)


@st.composite
def boundary_texts(draw: st.DrawFn) -> str:
    """Texts whose weight lands within a few units of a part boundary (where off-by-ones live)."""
    ucs2 = draw(st.booleans())
    if ucs2:
        light = st.characters(min_codepoint=0x100, max_codepoint=0xD7FF).filter(lambda c: c not in GSM_BASIC)
        heavy = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF)
        bases = [70, *(67 * k for k in range(1, 6)), *(66 * k for k in range(1, 6))]
    else:
        light = st.sampled_from(sorted(GSM_BASIC))
        heavy = st.sampled_from(sorted(GSM_EXT))
        bases = [160, *(153 * k for k in range(1, 6)), *(152 * k for k in range(1, 6))]
    target = draw(st.sampled_from(bases)) + draw(st.integers(-3, 3))
    heavy_share = draw(st.sampled_from([0.0, 0.1, 0.5]))
    out: list[str] = []
    weight = 0
    while weight < target:
        if draw(st.floats(0, 1)) < heavy_share:
            out.append(draw(heavy))
            weight += 2
        else:
            out.append(draw(light))
            weight += 1
    return "".join(out)


texts = st.one_of(texts, boundary_texts())
numbers = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{3,14}", fullmatch=True), st.from_regex(r"0[0-9]{3,14}", fullmatch=True)
)


def minimal_parts(text: str, wide_ref: bool = False) -> tuple[str, int]:
    """Fewest parts for ``text``, by dynamic programming over cut points (not the codec's greedy loop).

    Per part: 140 octets minus the concat header (6 octets, or 7 with a 16-bit reference), i.e.
    153/152 septets or 67/66 UCS-2 code units; an escape or surrogate pair weighs 2 and is not cut.
    """
    if all(ch in GSM_BASIC or ch in GSM_EXT for ch in text):
        weights = [2 if ch in GSM_EXT else 1 for ch in text]
        encoding, single, per_part = "gsm7", 160, 152 if wide_ref else 153
    else:
        weights = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding, single, per_part = "ucs2", 70, 66 if wide_ref else 67
    if sum(weights) <= single:
        return encoding, 1
    prefix = [0]
    for w in weights:
        prefix.append(prefix[-1] + w)
    best = [0] + [10**9] * len(weights)
    for i in range(1, len(weights) + 1):
        for j in range(i - 1, -1, -1):
            if prefix[i] - prefix[j] > per_part:
                break
            best[i] = min(best[i], best[j] + 1)
    return encoding, best[-1]


def user_data(part_hex: str) -> tuple[int, int, bytes]:
    """(DCS, TP-UDL, TP-UD) of an SMS-SUBMIT without VP, read by hand."""
    raw = bytes.fromhex(part_hex)
    pos = 1 + raw[0] + 2  # SMSC part, first octet, MR
    pos += 2 + (raw[pos] + 1) // 2  # DA
    dcs = raw[pos + 1]
    return dcs, raw[pos + 2], raw[pos + 3 :]


@settings(max_examples=300, deadline=None)
@given(numbers, texts, st.one_of(st.integers(0, 255), st.integers(256, 70000)))  # 8- and 16-bit refs
def test_submit_round_trip_is_lossless_and_minimal(number: str, text: str, ref: int) -> None:
    parts = encode_submit(number, text, concat_ref=ref)
    decoded = [decode(p.hex) for p in parts]
    submits = [m for m in decoded if isinstance(m, SubmitPdu)]
    assert submits == decoded  # every part decodes as an SMS-SUBMIT
    ordered = sorted(submits, key=lambda m: m.concat.seq if m.concat else 0)
    assert "".join(m.text for m in ordered) == text
    assert all(m.number == number for m in decoded)
    wide = ref > 255
    encoding, count = minimal_parts(text, wide)
    assert len(parts) == count
    assert {p.encoding for p in parts} == {encoding}
    for i, (part, msg) in enumerate(zip(parts, decoded, strict=True), 1):
        assert isinstance(msg, SubmitPdu)
        assert msg.cmgs_length == part.tpdu_length == len(bytes.fromhex(part.hex)) - 1
        dcs, udl, ud = user_data(part.hex)
        assert len(ud) <= 140
        if encoding == "gsm7":
            assert dcs == 0 and udl <= 160 and len(ud) == (udl * 7 + 7) // 8
            # an escape pair is never cut: a part never ends on an unpaired escape
            trailing = len(msg.data) - len(msg.data.rstrip(b"\x1b"))
            assert trailing % 2 == 0
        else:
            assert dcs == 8 and udl == len(ud)
            units = msg.data
            assert not (0xD8 <= units[-2] <= 0xDB) if units else True  # no high surrogate left dangling
            assert not (0xDC <= units[0] <= 0xDF) if units else True  # no low surrogate starting a part
        if len(parts) > 1:
            assert msg.concat == Concat(ref % (65536 if wide else 256), len(parts), i)
        else:
            assert msg.concat is None and msg.udh is None


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(numbers, st.text(st.sampled_from(sorted(GSM_BASIC | GSM_EXT)), min_size=1, max_size=5)),
    texts,
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
        timezones=st.integers(-79, 79).map(lambda q: timezone(timedelta(minutes=15 * q))),
    ),
)
def test_deliver_round_trip_keeps_number_text_time_and_zone(number: str, text: str, when: datetime) -> None:
    when = when.replace(microsecond=0)
    pdus = encode_deliver(number, text, scts=when, concat_ref=3)
    msgs = [decode(h) for h in pdus]
    delivers = [m for m in msgs if isinstance(m, DeliverPdu)]
    assert delivers == msgs  # every part decodes as an SMS-DELIVER
    assert "".join(m.text for m in delivers) == text
    for m in msgs:
        assert isinstance(m, DeliverPdu)
        assert m.number == number and m.scts == when and m.scts.utcoffset() == when.utcoffset()


def test_decode_user_data_of_an_unknown_label_is_no_text() -> None:
    # Labels come back from the store: one this codec never wrote reads as no text, not an error.
    assert decode_user_data("gsm7;locking=²", b"\x41") == ""
    assert decode_user_data("gsm7;shift=1", b"\x41") == ""
    assert decode_user_data("gsm7;single=1", b"\x41") == "A"
