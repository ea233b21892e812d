"""The gammu backend against libgammu's dummy driver (a directory that plays the phone)."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.errors import LinkError, ModemError, ModemGone
from raspisms_daemon.gsm.gammu_backend import GammuBackend, GammuState
from raspisms_daemon.gsm.modem import (
    CallRinging,
    ReportReceived,
    SignalChanged,
    SmsReceived,
)
from raspisms_daemon.gsm.pdu import encode_submit
from raspisms_daemon.gsm.policy import ReconnectPolicy
from raspisms_daemon.phones.multipart import Part, assemble
from tests.helpers.gammu_dummy import DUMMY_CALLER, DUMMY_SEND_REFERENCE, DummyPhone
from tests.helpers.machine import import_or_skip
from tests.helpers.modem_events import ModemEvents

gammu = import_or_skip("gammu", "python-gammu", "python3-gammu")
LIBGAMMU = tuple(int(x) for x in gammu.Version()[2].split(".")[:2])

pytestmark = pytest.mark.timeout(60)


def _phone(dummy: DummyPhone) -> PhoneConfig:
    return PhoneConfig(id=3, backend="gammu", device=dummy.device, gammu_model="dummy", poll_interval=0.05)


@pytest.fixture
def dummy(tmp_path: Path) -> DummyPhone:
    return DummyPhone.create(tmp_path / "phone")


@pytest.fixture
async def backend(dummy: DummyPhone) -> AsyncIterator[GammuBackend]:
    b = GammuBackend(_phone(dummy), call_timeout=5.0, reconnect=ReconnectPolicy((0.05,)))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


async def test_messages_dropped_in_the_sim_inbox_come_out_as_received_sms(
    dummy: DummyPhone, backend: GammuBackend
) -> None:
    when = datetime(2026, 3, 1, 8, 30, 15, tzinfo=UTC)
    location = dummy.drop_sms("+33611223344", "Gate opened at 08:30 €", when=when, unicode=True)
    events = ModemEvents(backend)

    (sms,) = await events.wait_for(SmsReceived)

    assert sms.message.number == "+33611223344"
    assert sms.message.text == "Gate opened at 08:30 €"
    assert sms.message.encoding == "ucs2"
    assert sms.message.scts == when
    assert sms.message.concat is None
    assert (sms.index, sms.storage, sms.pdu) == (location, "1", "")


async def test_multipart_parts_are_emitted_one_by_one_with_one_concat_ref(
    dummy: DummyPhone, backend: GammuBackend
) -> None:
    first, second = "A long alert, part one. " * 6, "and the end."
    first = first[:153]
    dummy.drop_multipart("+33655667788", [first, second], ref=0xA7)
    events = ModemEvents(backend)

    parts = await events.wait_for(SmsReceived, count=2)

    concats = [p.message.concat for p in parts]
    assert all(c is not None and c.ref == 0xA7 and c.total == 2 for c in concats)
    assert sorted(c.seq for c in concats if c) == [1, 2]
    text = assemble({p.message.concat.seq: Part(p.message.text) for p in parts if p.message.concat})
    assert text == first + second
    assert {p.message.udh for p in parts} == {bytes([5, 0, 3, 0xA7, 2, 1]), bytes([5, 0, 3, 0xA7, 2, 2])}


async def test_a_message_is_not_emitted_twice_until_it_is_deleted(
    dummy: DummyPhone, backend: GammuBackend
) -> None:
    dummy.drop_sms("+33600000001", "once")
    events = ModemEvents(backend)
    (sms,) = await events.wait_for(SmsReceived)

    for _ in range(3):  # several sweeps over the same stored message
        await backend.sweep()
    await asyncio.sleep(0.3)
    assert len(events.of(SmsReceived)) == 1
    assert dummy.stored() == [1]  # never deleted on the backend's own initiative

    await backend.delete(sms.index, sms.storage)
    assert dummy.stored() == []
    # The freed slot holds a new message: that one is new and must come out.
    dummy.drop_sms("+33600000001", "twice", slot=1)
    later = await events.wait_for(SmsReceived, count=2)
    assert later[1].message.text == "twice"
    assert later[1].index == sms.index


async def test_deleting_a_message_that_is_already_gone_is_not_an_error(
    dummy: DummyPhone, backend: GammuBackend
) -> None:
    await backend.delete(dummy.location(1, 9), "1")
    assert backend.state is GammuState.CONNECTED


async def test_status_report_in_the_inbox_becomes_report_received(
    dummy: DummyPhone, backend: GammuBackend
) -> None:
    ok = dummy.drop_status_report(42, "+33612345678", status=0x00)
    failed = dummy.drop_status_report(43, "+33612345678", status=0x41)
    pending = dummy.drop_status_report(44, "+33612345678", status=0x21)
    events = ModemEvents(backend)

    reports = await events.wait_for(ReportReceived, count=3)

    by_mr = {r.report.mr: r for r in reports}
    assert (by_mr[42].index, by_mr[43].index, by_mr[44].index) == (ok, failed, pending)
    assert by_mr[42].report.outcome == "delivered" and by_mr[42].report.number == "+33612345678"
    if LIBGAMMU >= (1, 44):
        # Older dummy drivers read no DeliveryStatus from their files (every report says 0): the
        # statuses of real reports are checked through libgammu's AT driver and report_from_gammu.
        assert by_mr[43].report.outcome == "failed" and by_mr[43].report.status == 0x41
        assert by_mr[44].report.outcome == "pending"
    assert not events.of(SmsReceived)


async def test_incoming_call_file_produces_call_ringing(dummy: DummyPhone, backend: GammuBackend) -> None:
    events = ModemEvents(backend)
    dummy.ring()

    (call,) = await events.wait_for(CallRinging)

    assert call.number == DUMMY_CALLER
    assert not dummy.ringing  # the driver consumed it


async def test_send_returns_the_message_reference_of_each_part(backend: GammuBackend) -> None:
    parts = encode_submit("+33699887766", "x" * 200, concat_ref=9)
    assert len(parts) == 2

    refs = await backend.send(parts)

    assert refs == [DUMMY_SEND_REFERENCE, DUMMY_SEND_REFERENCE]


async def test_identity_reports_what_the_phone_says(backend: GammuBackend) -> None:
    identity = await backend.identity()

    assert identity.manufacturer == "Gammu"
    assert identity.model == "Dummy"
    assert identity.imei == "999999999999999"
    assert identity.imsi == "994299429942994"
    # The dummy network's name, or (python-gammu before 3.3 passes it on empty) libgammu's table entry
    # for its code "999 99".
    assert identity.operator in {"GammuT3l", gammu.GSMNetworks["999 99"]}
    assert identity.registration == "home"
    assert identity.signal is not None and 0 <= identity.signal <= 31


async def test_signal_quality_is_reported_once_at_start(backend: GammuBackend) -> None:
    events = ModemEvents(backend)
    (signal,) = await events.wait_for(SignalChanged)
    assert signal.rssi is not None
    await asyncio.sleep(0.2)
    assert len(events.of(SignalChanged)) == 1  # unchanged: not repeated


async def test_stop_ends_the_event_stream_and_leaves_no_thread(dummy: DummyPhone) -> None:
    before = set(threading.enumerate())
    b = GammuBackend(_phone(dummy), call_timeout=5.0)
    await b.start()
    events = ModemEvents(b)
    assert any(t.name == "gammu-phone-3" for t in threading.enumerate())

    await b.stop()
    await b.stop()  # twice is fine

    await events.ended()
    assert set(threading.enumerate()) <= before
    assert b.state is GammuState.STOPPED
    with pytest.raises(ModemGone):
        await b.send(encode_submit("+33600000000", "late"))


async def test_every_line_of_the_backend_and_its_worker_carries_the_phone_id(
    dummy: DummyPhone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="raspisms_daemon.gsm")
    b = GammuBackend(_phone(dummy), call_timeout=5.0)
    await b.start()
    await b.send(encode_submit("+33699887766", "hi"))
    await b.delete(dummy.location(1, 9), "1")  # already gone: a debug line
    await b.stop()
    ours = [r for r in caplog.records if r.name.startswith("raspisms_daemon.gsm.gammu")]
    assert len(ours) >= 4  # connected, sent, already gone, stopped
    assert {getattr(r, "phone_id", None) for r in ours} == {3}


async def test_calls_while_not_connected_fail_with_modem_gone(dummy: DummyPhone) -> None:
    b = GammuBackend(_phone(dummy))
    with pytest.raises(ModemGone):
        await b.identity()


async def test_start_on_a_device_that_cannot_exist_fails_with_a_link_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    before = set(threading.enumerate())
    b = GammuBackend(
        PhoneConfig(id=4, backend="gammu", device=str(blocker / "phone"), gammu_model="dummy"),
        call_timeout=5.0,
    )

    with pytest.raises(LinkError) as caught:
        await b.start()

    assert "Init" in str(caught.value)
    assert isinstance(caught.value.__cause__, Exception)
    assert b.state is GammuState.STOPPED
    assert set(threading.enumerate()) <= before


def test_missing_python_gammu_gives_a_clear_modem_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "gammu", None)  # what `import gammu` sees when it is not installed

    with pytest.raises(ModemError, match="python-gammu"):
        GammuBackend(PhoneConfig(id=1, backend="gammu", device=str(tmp_path), gammu_model="dummy"))


async def test_hangup_cancels_the_call_in_the_phone(dummy: DummyPhone) -> None:
    b = GammuBackend(_phone(dummy), call_timeout=5.0)
    await b.start()
    await b.hangup()
    await b.stop()  # the driver's log is a buffered stdio file: complete once the connection closes

    # The dummy driver logs what leaves no file: CancelCall(ID 0, all calls).
    assert "Canceling call 0 (1)" in dummy.operations_log()
