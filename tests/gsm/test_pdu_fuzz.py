"""Fuzzing the decoder: whatever the bytes, it returns a decoded PDU or raises PduError, nothing else.

Every decoded result must also serialise to UTF-8 JSON (what the CLI and the webhooks do with it),
so a lone surrogate or similar can never reach the store.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raspisms_daemon.commands.pdu import pdu_to_json
from raspisms_daemon.errors import PduError
from raspisms_daemon.gsm.gsm7_tables import LOCKING, SINGLE, UNDEFINED
from raspisms_daemon.gsm.pdu import (
    DeliverPdu,
    StatusReportPdu,
    SubmitPdu,
    decode,
    encode_deliver,
    encode_status_report,
    encode_submit,
)

from .test_corpus_codec import NATIONAL_CASES, PDU_CASES
from .test_pdu import VECTORS

WHEN = datetime(2025, 6, 30, 12, 0, 0, tzinfo=timezone(timedelta(hours=-4)))


def _decodes(raw: bytes) -> bool:
    try:
        decode(raw)
    except PduError:
        return False
    return True


CORPUS: list[bytes] = [bytes.fromhex(v["hex"]) for v in VECTORS]
CORPUS += [bytes.fromhex(p.hex) for p in encode_submit("+33612345678", "Café [€] " * 30, concat_ref=9)]
CORPUS += [bytes.fromhex(p.hex) for p in encode_submit("0612", "😀 emoji " * 20, concat_ref=4000, flash=True)]
CORPUS += [bytes.fromhex(p.hex) for p in encode_submit("+1", "vp", smsc="+123", validity_minutes=90)]
CORPUS += [bytes.fromhex(h) for h in encode_deliver("MyBank", "Votre code: 123456", scts=WHEN)]
CORPUS += [bytes.fromhex(h) for h in encode_deliver("+447700900123", "x{y}" * 50, scts=WHEN, concat_ref=77)]
CORPUS += [bytes.fromhex(encode_status_report(42, "+33612345678", status=0x45, scts=WHEN, discharge=WHEN))]
CORPUS += [bytes.fromhex(h) for h in encode_deliver("+9053", "Şğı " * 50, scts=WHEN, locking=1, single=1)]
# What other projects captured and assert (tests/data/corpus) that decodes: national UDHs among them.
CORPUS += [
    raw
    for case in PDU_CASES + NATIONAL_CASES
    if "hex" in case and len(case["hex"]) % 2 == 0 and case["smsc_included"]
    for raw in [bytes.fromhex(case["hex"])]
    if _decodes(raw)
]

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(raw: bytes | str, smsc: bool) -> None:
    try:
        msg = decode(raw, smsc=smsc)
    except PduError:
        return
    assert isinstance(msg, DeliverPdu | SubmitPdu | StatusReportPdu)
    json.dumps(pdu_to_json(msg), ensure_ascii=False).encode("utf-8")


@FUZZ
@given(st.binary(max_size=200), st.booleans())
def test_random_bytes_decode_or_raise_pdu_error(raw: bytes, smsc: bool) -> None:
    check(raw, smsc)


@FUZZ
@given(st.text(max_size=120), st.booleans())
def test_random_text_as_hex_decodes_or_raises_pdu_error(text: str, smsc: bool) -> None:
    check(text, smsc)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["set", "flip", "insert", "delete", "truncate", "append"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 4))]
        elif op == "truncate":
            del data[pos:]
        elif op == "append":
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@FUZZ
@given(mutated(), st.booleans())
def test_mutated_corpus_decodes_or_raises_pdu_error(raw: bytes, smsc: bool) -> None:
    check(raw, smsc)


@FUZZ
@given(mutated())
def test_mutated_corpus_as_hex_decodes_or_raises_pdu_error(raw: bytes) -> None:
    check(raw.hex(), True)


def test_corpus_itself_decodes() -> None:
    # The mutations start from valid PDUs; if these stopped decoding the fuzzing would prove little.
    for raw in CORPUS:
        assert isinstance(decode(raw), DeliverPdu | SubmitPdu | StatusReportPdu)


LANGUAGES = sorted(set(LOCKING) | set(SINGLE))


@st.composite
def national_text(draw: st.DrawFn) -> tuple[str, int, int]:
    """A text written with one language's tables, and those tables."""
    lang = draw(st.sampled_from(LANGUAGES))
    locking = lang if lang in LOCKING else 0
    alphabet = sorted(set(LOCKING.get(locking, "") + "".join(SINGLE[lang].values())) - {UNDEFINED, "\x1b"})
    return "".join(draw(st.lists(st.sampled_from(alphabet), min_size=1, max_size=400))), locking, lang


@settings(max_examples=300, deadline=None)
@given(national_text(), st.integers(0, 65535))
def test_any_text_of_a_national_alphabet_round_trips_through_parts(
    sample: tuple[str, int, int], ref: int
) -> None:
    text, locking, single = sample
    pdus = encode_deliver("+1", text, scts=WHEN, concat_ref=ref, locking=locking, single=single)
    parts = [decode(h) for h in pdus]
    assert all(isinstance(p, DeliverPdu) and p.problems == () for p in parts)
    assert "".join(p.text for p in parts if isinstance(p, DeliverPdu)) == text
