"""python-gammu dicts ↔ our types: pure functions, table-driven (libgammu only to check what it sends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from raspisms_daemon.gsm.gammu_convert import (
    deliver_from_gammu,
    event_from_gammu,
    identity_from_gammu,
    message_key,
    operator_name,
    report_from_gammu,
    rssi_from_quality,
    submit_message,
)
from raspisms_daemon.gsm.modem import Identity, ReportReceived, SmsReceived, UndecodableSms
from raspisms_daemon.gsm.pdu import Concat, encode_submit
from tests.helpers.machine import import_or_skip

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WHEN = datetime(2026, 3, 1, 8, 30, 15, tzinfo=timezone(timedelta(hours=1)))


def deliver(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Deliver",
        "Folder": 1,
        "Location": 4,
        "Number": "+33600000000",
        "Text": "abc",
        "Coding": "Default_No_Compression",
        "DateTime": WHEN,
        "SMSC": {"Number": "+33609001390"},
        "Class": -1,
        **fields,
    }


# -- sending ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (
            encode_submit("+33699887766", "hi", status_report=False)[0],
            {"Type": "Submit", "Coding": "Default_No_Compression", "Number": "+33699887766", "Text": "hi"},
        ),
        (
            encode_submit("+33699887766", "hi", status_report=True)[0],
            {"Type": "Status_Report", "Coding": "Default_No_Compression"},
        ),
        (encode_submit("+33699887766", "ж")[0], {"Coding": "Unicode_No_Compression"}),
        (encode_submit("+33699887766", "alert", flash=True)[0], {"Class": 0}),
        (
            encode_submit("+33699887766", "x" * 200, concat_ref=9)[1],
            {
                "UDH": {
                    "Type": "ConcatenatedMessages",
                    "Text": bytes([5, 0, 3, 9, 2, 2]),
                    "ID8bit": 9,
                    "PartNumber": 2,
                    "AllParts": 2,
                }
            },
        ),
        (
            encode_submit("+33699887766", "ж" * 100, concat_ref=300)[0],
            {
                "UDH": {
                    "Type": "ConcatenatedMessages16bit",
                    "Text": bytes([6, 8, 4, 1, 44, 2, 1]),
                    "ID16bit": 300,
                    "PartNumber": 1,
                    "AllParts": 2,
                }
            },
        ),
    ],
    ids=["plain", "report", "ucs2", "flash", "concat-8bit", "concat-16bit"],
)
def test_submit_message(part: Any, expected: dict[str, Any]) -> None:
    message = submit_message(part)
    assert {k: message[k] for k in expected} == expected
    assert (message["Folder"], message["Location"], message["SMSC"]) == (0, 0, {"Location": 1})
    if part.concat is None:
        assert "UDH" not in message
    if not part.flash:
        assert "Class" not in message


def test_submit_message_asks_libgammu_for_a_report_and_carries_the_concat_header() -> None:
    gammu = import_or_skip("gammu", "python-gammu", "python3-gammu")

    part = encode_submit("+33699887766", "ж" * 100, concat_ref=300, status_report=True)[0]
    # What libgammu makes of it: TP-SRR set (0x20), TP-UDHI set (0x40), our UDH first in the user data.
    pdu = gammu.EncodePDU(submit_message(part), Layout="Submit")
    first_octet = pdu[pdu[0] + 1]
    assert first_octet & 0x20 and first_octet & 0x40
    assert bytes([6, 8, 4, 1, 44, 2, 1]) in pdu

    plain = submit_message(encode_submit("+33699887766", "hi", status_report=False)[0])
    encoded = gammu.EncodePDU(plain, Layout="Submit")
    assert not encoded[encoded[0] + 1] & 0x20


# -- what the phone says about itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("quality", "rssi"),
    [
        ({"SignalStrength": -113, "SignalPercent": 0}, 0),
        ({"SignalStrength": -73, "SignalPercent": 60}, 20),
        ({"SignalStrength": -51, "SignalPercent": 100}, 31),
        ({"SignalStrength": -1, "SignalPercent": 50}, 16),  # no dBm: from the percentage
        ({"SignalStrength": -1, "SignalPercent": 100}, 31),
        ({"SignalStrength": -1, "SignalPercent": -1}, None),
        ({"SignalStrength": -120, "SignalPercent": 101}, None),
        ({}, None),
    ],
)
def test_rssi_from_quality(quality: dict[str, int], rssi: int | None) -> None:
    assert rssi_from_quality(quality) == rssi


@pytest.mark.parametrize(
    ("network", "name"),
    [
        ({"NetworkName": "Orange F", "NetworkCode": "208 01"}, "Orange F"),
        ({"NetworkName": "", "NetworkCode": "208 15"}, "Free Mobile"),
        ({"NetworkName": "", "NetworkCode": "999 98"}, "999 98"),
        ({"NetworkName": "", "NetworkCode": ""}, None),
        ({}, None),
    ],
)
def test_operator_name_falls_back_to_the_network_code_table(
    network: dict[str, str], name: str | None
) -> None:
    assert operator_name(network, {"208 15": "Free Mobile"}) == name


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            {
                "manufacturer": "Huawei",
                "model": ("E3531", "unknown"),
                "imei": "861234567890123",
                "imsi": "208150000000001",
                "network": {"NetworkName": "", "NetworkCode": "208 15", "State": "HomeNetwork"},
                "quality": {"SignalStrength": -73, "SignalPercent": 60},
            },
            Identity("Huawei", "E3531", "861234567890123", "208150000000001", None, "Free", 20, "home"),
        ),
        (
            {"manufacturer": "", "model": ["unknown", "MF190"], "imei": None, "imsi": None},
            Identity(model="MF190"),
        ),
        (
            {"model": "E173", "network": {"NetworkCode": "208 01", "State": "RoamingNetwork"}},
            Identity(model="E173", operator="208 01", registration="roaming"),
        ),
        ({"network": {"State": "Weird"}}, Identity(registration="unknown")),
        ({"model": ("", "unknown")}, Identity()),
        ({"quality": {}}, Identity()),  # an empty answer is no answer
    ],
    ids=["everything", "nothing-but-a-model", "roaming", "unknown-state", "no-model", "no-quality"],
)
def test_identity_from_gammu(answers: dict[str, Any], expected: Identity) -> None:
    asked = {
        "manufacturer": None,
        "model": None,
        "imei": None,
        "imsi": None,
        "network": None,
        "quality": None,
    }
    assert identity_from_gammu(**(asked | answers), known_networks={"208 15": "Free"}) == expected


# -- received messages --------------------------------------------------------------------------------


def test_message_key_is_the_slot_and_a_fingerprint_of_the_content() -> None:
    key = message_key(deliver())
    assert key[:2] == ("1", 4)
    assert message_key(deliver()) == key
    assert message_key(deliver(Text="abd"))[2] != key[2]  # a new message in the same slot
    assert message_key(deliver(DateTime=NOW))[2] != key[2]
    assert message_key(deliver(UDH={"Text": b"\x05\x00\x03\x01\x02\x01"}))[2] != key[2]
    assert message_key({})[:2] == ("0", 0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"encoding": "gsm7", "dcs": 0x00, "text": "abc", "data": bytes([0x61, 0x62, 0x63])}),
        (
            {"Coding": "Unicode_No_Compression", "Text": "é🎉"},
            {"encoding": "ucs2", "dcs": 0x08, "text": "é🎉", "data": "é🎉".encode("utf-16-be")},
        ),
        (
            {"Coding": "8bit", "Text": b"\x01\x02"},
            {"encoding": "8bit", "dcs": 0x04, "text": "", "data": b"\x01\x02"},
        ),
        ({"Coding": "8bit", "Text": "not bytes"}, {"encoding": "8bit", "data": b""}),
        ({"Text": "ж"}, {"encoding": "gsm7", "text": "ж", "data": b""}),  # not GSM-7: text kept, no septets
        ({"Class": 0}, {"dcs": 0x10, "flash": True}),
        ({"Class": 1, "Coding": "Unicode_No_Compression"}, {"dcs": 0x19, "flash": False}),
        ({"Class": 7}, {"dcs": 0x00, "flash": False}),
        ({"ReplyViaSameSMSC": 1}, {"first_octet": 0x84}),
        ({}, {"first_octet": 0x04, "pid": 0, "udh": None, "concat": None}),
        ({"SMSC": {"Number": ""}}, {"smsc": None}),
        ({}, {"smsc": "+33609001390", "number": "+33600000000"}),
        ({}, {"scts": WHEN}),
        ({"DateTime": None, "SMSCDateTime": WHEN}, {"scts": WHEN}),
        ({"DateTime": None}, {"scts": NOW}),  # no time at all: the caller's clock
        ({"DateTime": datetime(2026, 3, 1, 8, 30)}, {"scts": datetime(2026, 3, 1, 8, 30).astimezone()}),
        (
            {"UDH": {"Type": "ConcatenatedMessages16bit", "Text": bytes([6, 8, 4, 0x12, 0x34, 3, 2])}},
            {"concat": Concat(ref=0x1234, total=3, seq=2), "first_octet": 0x44},
        ),
        (
            # A header the codec finds malformed: the fields gammu decoded.
            {
                "UDH": {
                    "Type": "ConcatenatedMessages",
                    "Text": b"\x05\x00",
                    "ID8bit": 7,
                    "PartNumber": 1,
                    "AllParts": 2,
                }
            },
            {"concat": Concat(ref=7, total=2, seq=1), "udh": b"\x05\x00"},
        ),
        (
            {
                "UDH": {
                    "Type": "ConcatenatedMessages",
                    "ID16bit": -1,
                    "ID8bit": 7,
                    "PartNumber": 3,
                    "AllParts": 2,
                }
            },
            {"concat": None, "udh": None},
        ),
    ],
)
def test_deliver_from_gammu(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    message = deliver_from_gammu(deliver(**fields), NOW)
    assert {k: getattr(message, k) for k in expected} == expected


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(0x00, "delivered"), (0x02, "delivered"), (0x21, "pending"), (0x41, "failed"), (0x65, "failed")],
)
def test_report_from_gammu_keeps_the_delivery_status(status: int, outcome: str) -> None:
    report = report_from_gammu(
        {"MessageReference": 300, "Number": "+33612345678", "DeliveryStatus": status, "SMSC": {}}, NOW
    )
    assert (report.mr, report.status, report.outcome) == (300 & 0xFF, status, outcome)
    assert (report.number, report.smsc, report.first_octet) == ("+33612345678", None, 0x06)


@pytest.mark.parametrize(
    ("times", "scts", "discharge"),
    [
        ({"DateTime": WHEN, "SMSCDateTime": NOW}, WHEN, NOW),
        ({"DateTime": WHEN}, WHEN, WHEN),
        ({}, NOW, NOW),
    ],
)
def test_report_from_gammu_times(times: dict[str, datetime], scts: datetime, discharge: datetime) -> None:
    report = report_from_gammu({"MessageReference": 1, **times}, NOW)
    assert (report.scts, report.discharge) == (scts, discharge)


@pytest.mark.parametrize(
    ("part", "kind"),
    [
        (deliver(), SmsReceived),
        ({"Type": "Status_Report", "Folder": 1, "Location": 4, "MessageReference": 5}, ReportReceived),
        ({"Type": "Status_Report", "Folder": 1, "Location": 4, "MessageReference": "x"}, UndecodableSms),
        (deliver(UDH={"Text": "not bytes"}), UndecodableSms),
        ({"Type": "Submit", "Folder": 1, "Location": 4}, type(None)),  # sent or draft: not ours
    ],
    ids=["deliver", "report", "bad-report", "bad-deliver", "submit"],
)
def test_event_from_gammu(part: dict[str, Any], kind: type) -> None:
    event = event_from_gammu(part, NOW)
    assert isinstance(event, kind)
    if event is not None:
        assert isinstance(event, SmsReceived | ReportReceived | UndecodableSms)  # what a stored part gives
        assert (event.index, event.storage, event.pdu) == (4, "1", "")
    if isinstance(event, UndecodableSms):
        assert event.error.startswith("gammu message: ")
