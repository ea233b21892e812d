"""The PDU codec and the GSM-7 tables against what other projects assert (tests/data/corpus).

Every PDU case is decoded and each value its source asserts is compared with ours. Where we differ on
purpose the case is in DIFFERENCES, with our value (which is asserted too) and the reason; values the
codec does not produce are in NOT_COMPARED, with the reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.errors import PduError
from raspisms_daemon.gsm import gsm7
from raspisms_daemon.gsm.gsm7_tables import LOCKING, SINGLE, UNDEFINED
from raspisms_daemon.gsm.pdu import (
    UNKNOWN_TIME,
    DeliverPdu,
    StatusReportPdu,
    SubmitPdu,
    decode,
    decode_user_data,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))["cases"]
    return cases


PDU_CASES = load("pdu_deliver") + load("pdu_status_report") + load("pdu_submit")
NATIONAL_CASES = load("pdu_national")
TABLES = json.loads((CORPUS / "national_tables.json").read_text(encoding="utf-8"))["languages"]


@dataclass(frozen=True)
class Difference:
    key: str  # the asserted value we differ on; WHOLE: we refuse the PDU the source decodes
    ours: Any  # what we give instead (asserted)
    why: str


WHOLE = "*"


DIFFERENCES: dict[str, Difference] = {
    "pgm-decode-zte-semi-invalid-status-report": Difference(
        "number",
        "+#08427829207025",
        "python-gsmmodem shows semi-octet 0xB as 'b'; TS 23.040 §9.1.2.3 maps 1011 to '#' (the other "
        "project is wrong; the report still matches by its mr)",
    ),
    "pgm-decode-submit-8bit": Difference(
        "text",
        "",
        "8-bit user data is binary, not text: the codec gives '' and keeps the octets in .data "
        "(design choice; python-gsmmodem shows ASCII octets as text)",
    ),
    "pgm-decode-submit-ucs2-bad-udl": Difference(
        WHOLE,
        "PduError",
        "TP-UDL 160 with 10 octets of user data: a message cut short is refused whole and, on a SIM, "
        "kept raw as UndecodableSms, since its text would look complete without its end (design "
        "choice; python-gsmmodem decodes what is there)",
    ),
    "gammu-at-sms-ok-41": Difference(
        "gammu_decodes",
        False,
        "user data 3 octets short of its TP-UDL: refused whole and kept raw, as above (design "
        "choice; gammu decodes what is there; ModemManager refuses such a PDU too)",
    ),
    "mm-pdu-wrong-udh": Difference(
        "error",
        False,
        "a UDHI bit with TP-UDL 0: an empty message whose header bit is wrong, decoded with the "
        "repair named, as gammu reads its capture at-sms/20 (design choice; ModemManager refuses it)",
    ),
    "mm-pdu-wrong-user-data-elements-size": Difference(
        "error",
        False,
        "the same UDHI bit with TP-UDL 0 (UCS-2; the two octets after the PDU are ignored, as SIM800's FF "
        "padding is): an empty message, the repair named (design choice; ModemManager refuses it)",
    ),
    "pm-odd-length-hex": Difference(
        "lenient_text",
        None,
        "an odd number of hex digits is refused (python-messaging's strict mode): where the digit went "
        "missing cannot be known, so the raw line is kept rather than a guessed text delivered",
    ),
}

NOT_COMPARED: dict[str, str] = {
    "scts_as_asserted": "ModemManager's own spelling of 'scts', which is compared",
    "input_text": "the input of the other project's encoder; 'text' holds what the PDU says",
    "reencodes_identically": "re-encoding a received PDU is not the codec's job (round trips: test_pdu)",
    "dst_port": "application ports are not interpreted: the message is delivered as its text",
    "src_port": "application ports are not interpreted",
    "ports_8bit": "application ports are not interpreted",
    "ports_16bit": "application ports are not interpreted",
    "concat_8bit_ref": "the width of the reference is not exposed; 'concat' is compared",
    "replace": "replace-type PIDs are not acted on (every SMS is delivered)",
    "cphs_mwi": "message waiting indications are not interpreted",
    "mwi": "message waiting indications are not interpreted",
    "mwi_dont_store": "message waiting indications are not interpreted",
    "email_from": "e-mail gateway headers are delivered as part of the text",
    "email_body": "e-mail gateway headers are delivered as part of the text",
    "udh_ies": "a description; the header's length and the text are compared",
    "python_messaging_number": "python-messaging's own rendering of a report as a message",
    "python_messaging_text": "python-messaging's own rendering of a report as a message",
    "validity_absolute": "TP-VP is kept raw (SubmitPdu.validity): the daemon writes relative periods only",
    "tpdu_length": "compared for SUBMITs (cmgs_length); a received PDU's length is the modem's business",
    # Checked per message in test_the_parts_of_one_message_belong_together:
    "assembly_group": "per message",
    "assembly_parts": "per message",
    "assembly_completes": "per message",
    "concat_group": "per message",
    "parts": "per message",
    "group_text": "per message",
}


def _relative_validity_minutes(octet: int) -> int:
    """TS 23.040 §9.2.3.12.1, relative format."""
    if octet <= 143:
        return (octet + 1) * 5
    if octet <= 167:
        return 12 * 60 + (octet - 143) * 30
    if octet <= 196:
        return (octet - 166) * 24 * 60
    return (octet - 192) * 7 * 24 * 60


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _udl(msg: DeliverPdu | SubmitPdu) -> int:
    header = msg.udh or b""
    if msg.encoding.startswith("gsm7"):
        return (len(header) * 8 + 6) // 7 + len(msg.data)
    return len(header) + len(msg.data)


def observe(case: dict[str, Any]) -> dict[str, Any]:
    """Our value for each key the case asserts (keys we cannot observe are left out)."""
    try:
        msg = decode(case["hex"], smsc=case["smsc_included"])
    except PduError:
        refused: dict[str, Any] = {"error": True, "error_when_strict": True, "decodes": False}
        refused |= {"gammu_decodes": False, "mozilla_accepts": False, "lenient_text": None}
        return {k: refused.get(k, "PduError") for k in case["expect"]}
    got: dict[str, Any] = {
        "type": {DeliverPdu: "deliver", SubmitPdu: "submit", StatusReportPdu: "status_report"}[type(msg)],
        "error": False,
        "error_when_strict": False,
        "decodes": True,
        "gammu_decodes": True,
        "mozilla_accepts": True,
        "smsc": msg.smsc,
        "number": msg.number,
    }
    for key in ("mr", "status", "pid", "dcs", "first_octet", "status_report_request"):
        if hasattr(msg, key):
            got[key] = getattr(msg, key)
    if isinstance(msg, DeliverPdu | StatusReportPdu):
        got["scts"] = msg.scts.isoformat()
        got["scts_utc"] = msg.scts.astimezone(UTC).isoformat()
        got["scts_local"] = msg.scts.replace(tzinfo=None).isoformat()
    if isinstance(msg, StatusReportPdu):
        got["multipart"] = False
        got["discharge"] = msg.discharge.isoformat()
        got["discharge_local"] = msg.discharge.replace(tzinfo=None).isoformat()
        got["delivered"] = msg.outcome == "delivered"
        if "matched_against" in case["expect"]:
            # The report names the recipient nationally or internationally: the digits match at the end.
            sent = case["expect"]["matched_against"]
            got["matched_against"] = sent if _digits(sent).endswith(_digits(msg.number)) else msg.number
    if isinstance(msg, DeliverPdu | SubmitPdu):
        got["text"] = got["text_truncated_prefix"] = got["lenient_text"] = msg.text
        got["multipart"] = msg.concat is not None
        got["concat"] = None if msg.concat is None else msg.concat._asdict()
        got["encoding"] = msg.encoding.split(";")[0]
        got["data_hex"] = msg.data.hex().upper()
        got["udl"] = _udl(msg)
        got["ud_octets"] = (_udl(msg) * 7 + 7) // 8 if msg.encoding.startswith("gsm7") else _udl(msg)
        got["udhl"] = msg.udh[0] if msg.udh else 0
        got["udh_hex"] = msg.udh.hex().upper() if msg.udh else None
    if isinstance(msg, SubmitPdu):
        got["tpdu_length"] = msg.cmgs_length
        got["tpdu_offset"] = len(bytes.fromhex(case["hex"])) - msg.cmgs_length
        got["validity_absent"] = msg.validity is None
        if msg.validity is not None and len(msg.validity) == 1:
            got["validity_relative_octet"] = msg.validity[0]
            got["validity_relative_minutes"] = _relative_validity_minutes(msg.validity[0])
            got["validity_seconds"] = _relative_validity_minutes(msg.validity[0]) * 60
    return got


@pytest.mark.parametrize("case", PDU_CASES, ids=[c["id"] for c in PDU_CASES])
def test_the_codec_gives_what_the_source_asserts(case: dict[str, Any]) -> None:
    expected = {k: v for k, v in case["expect"].items() if k not in NOT_COMPARED}
    ours = observe(case)
    difference = DIFFERENCES.get(case["id"])
    if difference is not None and difference.key == WHOLE:
        with pytest.raises(PduError):
            decode(case["hex"], smsc=case["smsc_included"])
        return
    if difference is not None:
        assert difference.key in expected, "a listed difference names an asserted key"
        assert ours.get(difference.key) == difference.ours
        expected[difference.key] = difference.ours
    assert {k: ours.get(k, "not observed") for k in expected} == expected
    if not expected:  # nothing of it is compared, yet it must decode
        decode(case["hex"], smsc=case["smsc_included"])


def test_every_listed_difference_is_a_case_of_the_corpus() -> None:
    ids = {c["id"] for c in PDU_CASES}
    assert set(DIFFERENCES) <= ids


@pytest.mark.parametrize(
    "group_key", ["assembly_group", "concat_group", "group_text"], ids=["ofono", "gammu", "python-gsmmodem"]
)
def test_the_parts_of_one_message_belong_together(group_key: str) -> None:
    groups: dict[str, list[tuple[dict[str, Any], DeliverPdu | SubmitPdu]]] = defaultdict(list)
    for case in PDU_CASES:
        if group_key in case["expect"]:
            msg = decode(case["hex"], smsc=case["smsc_included"])
            assert isinstance(msg, DeliverPdu | SubmitPdu)
            groups[case["expect"][group_key]].append((case, msg))
    assert groups
    for members in groups.values():
        parts = sorted((m for _c, m in members), key=lambda m: m.concat.seq if m.concat else 0)
        concats = {(m.concat.ref, m.concat.total) for m in parts if m.concat}
        assert len(concats) == 1
        assert [m.concat.seq for m in parts if m.concat] == list(range(1, len(parts) + 1))
        expect = members[0][0]["expect"]
        total = expect.get("assembly_parts", expect.get("parts", len(parts)))
        first = parts[0].concat
        assert first is not None and concats == {(first.ref, total)}
        if group_key == "group_text":
            joined = decode_user_data(parts[0].encoding, b"".join(m.data for m in parts))
            assert joined == expect["group_text"]


def test_a_status_report_with_a_time_zone_that_is_no_number_keeps_mr_number_and_status() -> None:
    # oFono's sr_pdu3: both time-zone octets A0. The wall clock is kept, read as UTC, and named.
    (case,) = [c for c in PDU_CASES if c["id"] == "ofono-sr-pdu3"]
    report = decode(case["hex"], smsc=False)
    assert isinstance(report, StatusReportPdu)
    assert (report.mr, report.number, report.outcome) == (6, "123456789", "delivered")
    assert report.scts.isoformat() == "2010-09-21T14:03:46+00:00"
    assert report.discharge.isoformat() == "2010-09-21T14:03:54+00:00"
    assert report.problems == (
        "service centre timestamp time zone octet A0 is not BCD: read as UTC",
        "discharge time time zone octet A0 is not BCD: read as UTC",
    )


def test_the_zero_timestamp_of_mozillas_recipe_costs_the_time_not_the_text() -> None:
    (case,) = [c for c in PDU_CASES if c["id"] == "constructed-mozilla-zero-scts"]
    msg = decode(case["hex"])
    assert isinstance(msg, DeliverPdu)
    assert msg.text == case["expect"]["text"] and msg.scts == UNKNOWN_TIME
    assert msg.problems == ("service centre timestamp 00000000000000 is not a date: time unknown",)


# -- national language tables ----------------------------------------------------------------------


@pytest.mark.parametrize("case", NATIONAL_CASES, ids=[c["id"] for c in NATIONAL_CASES])
def test_national_language_texts_decode_as_the_source_asserts(case: dict[str, Any]) -> None:
    locking, single = case["locking_lang"], case["single_lang"]
    if case.get("kind") == "septets":  # Android: bare septets decoded with the given tables
        assert gsm7.decode_septets(case["septets"], locking, single) == case["expect"]["text"]
        return
    msg = decode(case["hex"], smsc=case["smsc_included"])
    assert isinstance(msg, DeliverPdu)
    assert msg.encoding.split(";")[0] == case["expect"]["encoding"] == "gsm7"
    if case["language_signalled_in_udh"]:
        # IE 0x25/0x24 in the UDH name the tables: the decoder reads them, and says so in the label.
        shifts = [f"{name}={value}" for name, value in (("locking", locking), ("single", single)) if value]
        assert msg.encoding == ";".join(["gsm7", *shifts])
        assert msg.udh is not None and msg.udh.hex().upper() == case["expect"]["udh_hex"]
        assert msg.text == case["expect"]["text"]
        assert decode_user_data(msg.encoding, msg.data) == msg.text
        assert msg.problems == ()
    else:
        # oFono's test tells its decoder the language out of band: so do we.
        assert gsm7.decode_septets(msg.data, locking, single) == case["expect"]["text"]


def _language_ids() -> list[int]:
    return [lang["id"] for lang in TABLES]


@pytest.mark.parametrize("lang", _language_ids())
def test_every_table_of_ts_23038_is_the_corpus_table(lang: int) -> None:
    entry = TABLES[lang]
    single = {int(code): ch for code, ch in entry["single"].items()}
    if lang == 0:
        assert gsm7.decode_septets(list(range(128))).replace(" ", "") == "".join(
            " " if code == 0x1B else ch for code, ch in enumerate(entry["locking"])
        ).replace(" ", "")
        return
    assert SINGLE[lang] == single
    if entry["locking"] is None:
        assert lang not in LOCKING  # Spanish: single shift only
    else:
        assert [UNDEFINED if ch == "" else ch for ch in entry["locking"]] == list(LOCKING[lang])


@pytest.mark.parametrize("lang", _language_ids())
def test_every_character_of_a_language_round_trips_through_its_tables(lang: int) -> None:
    locking = lang if lang in LOCKING else 0
    characters = {ch for ch in (LOCKING.get(lang, "") + "".join(SINGLE.get(lang, {}).values()))}
    text = "".join(sorted(characters - {UNDEFINED, "\x1b"}))
    septets = gsm7.encode_septets(text, locking, lang)
    assert gsm7.decode_septets(septets, locking, lang) == text
    assert gsm7.septet_length(text, locking, lang) == len(septets)


def test_an_undefined_position_of_a_locking_table_shows_a_space_as_other_decoders_do() -> None:
    bengali = LOCKING[4]
    undefined = bengali.index(UNDEFINED)
    assert gsm7.decode_septets([undefined], 4, 4) == " "
    # And the escape to a code the single shift table lacks shows the locking table's character.
    missing = next(code for code in range(128) if code not in SINGLE[1] and code != 0x1B)
    assert gsm7.decode_septets([0x1B, missing], 1, 1) == LOCKING[1][missing]


def test_an_unknown_language_reads_as_the_default_alphabet_and_is_named() -> None:
    # Identifier 14 is reserved: a UDH naming it must not cost the message.
    udh = bytes([6, 0x25, 1, 14, 0x24, 1, 14])
    start = (len(udh) * 8 + 6) // 7
    user_data = bytearray(gsm7.pack_septets(gsm7.encode_septets("hello"), start))
    user_data[: len(udh)] = udh
    tpdu = bytes.fromhex("40" + "04912143" + "0000" + "42103020000000") + bytes([start + 5]) + user_data
    msg = decode(b"\x00" + tpdu)
    assert isinstance(msg, DeliverPdu)
    assert (msg.encoding, msg.text) == ("gsm7;locking=14;single=14", "hello")
    assert msg.problems and "national language locking=14 single=14" in msg.problems[0]


def test_shifts_survive_the_join_of_a_multipart_message() -> None:
    # Multipart reassembly decodes the joined data of a run of parts with one encoding label.
    parts = [decode(c["hex"]) for c in NATIONAL_CASES if c["id"].startswith("constructed-udh-lang4-")]
    assert all(isinstance(p, DeliverPdu) for p in parts)
    labels = {p.encoding for p in parts if isinstance(p, DeliverPdu)}
    assert labels == {"gsm7;locking=4;single=4"}
    joined = b"".join(p.data for p in parts if isinstance(p, DeliverPdu))
    assert decode_user_data("gsm7;locking=4;single=4", joined) == "".join(
        p.text for p in parts if isinstance(p, DeliverPdu)
    )
