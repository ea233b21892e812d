"""The AT backend against the simulator on a real pty, for every personality."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.errors import CmeError, CmsError, ModemError, ModemGone
from raspisms_daemon.gsm.modem import (
    CallEnded,
    CallRinging,
    Disconnected,
    ModemEvent,
    Reconnected,
    ReportReceived,
    SmsReceived,
    UndecodableSms,
)
from raspisms_daemon.gsm.pdu import decode_user_data, encode_submit
from raspisms_daemon.gsm.policy import ReconnectPolicy, RefusedPins
from raspisms_daemon.gsm.serial_at import BackendState, SerialAtBackend
from raspisms_daemon.simulator import Simulator
from tests.helpers.modem_events import ModemEvents
from tests.helpers.simulator import simulated_modem

PERSONALITIES = ["generic", "huawei", "quectel", "sim800"]
EMOJI_TEXT = "Réunion à 18h 🎉👍 ok?"
LONG_TEXT = "".join(f"part of a long message {i:03d}. " for i in range(12))  # > 160 chars: 3 parts

pytestmark = pytest.mark.timeout(60)


def phone_for(sim: Simulator, **overrides: Any) -> PhoneConfig:
    base = PhoneConfig(id=7, device=str(sim.link), sweep_interval=60.0, liveness_interval=0.3, pin=sim.pin)
    return base._replace(**overrides)


@contextlib.asynccontextmanager
async def running(sim: Simulator, **kwargs: Any) -> AsyncIterator[tuple[SerialAtBackend, ModemEvents]]:
    phone_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in PhoneConfig._fields}
    backend = SerialAtBackend(
        phone_for(sim, **phone_kw),
        command_timeout=kwargs.pop("command_timeout", 1.0),
        reconnect=kwargs.pop("reconnect", ReconnectPolicy((0.05, 0.1, 0.2))),
        **kwargs,
    )
    await backend.start()
    recorder = ModemEvents(backend)
    try:
        yield backend, recorder
    finally:
        await backend.stop()
        await asyncio.wait_for(recorder.task, 2.0)
        # The backend's own tasks (supervisor, URC worker, periodic job) are all gone after stop().
        assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("at-")] == []


def texts(events: list[ModemEvent]) -> list[str]:
    """Received texts, multipart messages joined (by concat reference) in sequence order."""
    singles: list[str] = []
    groups: dict[tuple[str, int], dict[int, SmsReceived]] = {}
    for event in events:
        if not isinstance(event, SmsReceived):
            continue
        concat = event.message.concat
        if concat is None:
            singles.append(event.message.text)
        else:
            groups.setdefault((event.message.number, concat.ref), {})[concat.seq] = event
    for parts in groups.values():
        concat = next(iter(parts.values())).message.concat
        assert concat is not None  # only multipart messages are grouped
        if len(parts) == concat.total:
            ordered = [parts[i].message for i in sorted(parts)]
            singles.append(decode_user_data(ordered[0].encoding, b"".join(m.data for m in ordered)))
    return singles


def stored_keys(sim: Simulator) -> set[tuple[int, str]]:
    return {(slot["index"], slot["pdu"]) for slot in sim.state()["stored"]}


def pdu_key(event: SmsReceived | ReportReceived) -> tuple[int | None, str]:
    # SIM800 pads stored PDUs with FF: compare on the simulator's unpadded PDU.
    pdu = event.pdu
    while pdu.endswith("FF") and len(pdu) > 2:
        pdu = pdu[:-2]
    return event.index, pdu


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_start_reads_identity_signal_and_registration(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (backend, _rec):
        ident = await backend.identity()
        assert ident.imei == sim.imei
        assert ident.imsi == sim.imsi
        assert ident.iccid == sim.iccid
        assert ident.operator == sim.operator
        assert ident.manufacturer == sim.profile.manufacturer
        assert ident.model == sim.profile.model
        assert ident.signal == sim.rssi
        assert ident.registration == "home"
        assert backend.state is BackendState.CONNECTED
        settings = sim.state()["settings"]
        assert settings["echo"] is False and settings["cmee"] == 1 and settings["clip"] is True


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_single_multipart_and_emoji_sms_arrive_by_urc(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (_backend, rec):
        await sim.inject_sms("+33611111111", "hello")
        await sim.inject_sms("+33622222222", LONG_TEXT)
        await sim.inject_sms("+33633333333", EMOJI_TEXT)
        await rec.wait_until(lambda evs: len(texts(evs)) == 3)
        assert sorted(texts(rec.events)) == sorted(["hello", LONG_TEXT, EMOJI_TEXT])
        received = rec.of(SmsReceived)
        assert len(received) == 5  # 1 + 3 parts + 1
        assert {pdu_key(e) for e in received} == stored_keys(sim)
        # URCs, not a sweep, brought them (the sweep interval is a minute): storage named by the +CMTI.
        assert {e.storage for e in received} == {sim.profile.storage}


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_messages_stored_before_start_arrive_by_the_first_sweep(
    tmp_path: Path, personality: str
) -> None:
    async with simulated_modem(tmp_path, personality) as sim:
        await sim.inject_sms("+33611111111", "while the daemon was down")
        await sim.inject_sms("+33622222222", LONG_TEXT)
        await sim.inject_sms("+33633333333", EMOJI_TEXT)
        async with running(sim) as (_backend, rec):
            await rec.wait_until(lambda evs: len(texts(evs)) == 3)
            assert sorted(texts(rec.events)) == sorted(["while the daemon was down", LONG_TEXT, EMOJI_TEXT])
            assert {pdu_key(e) for e in rec.of(SmsReceived)} == stored_keys(sim)


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_lost_urcs_are_made_up_by_the_periodic_sweep_without_duplicates(
    tmp_path: Path, personality: str
) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim, sweep_interval=0.3) as (_b, rec):
        # Real modems lose URCs: this one loses the +CMTI of every part of both messages.
        await sim.fault("drop_urcs:100")
        indexes = await sim.inject_sms("+33611111111", "no URC for me")
        indexes += await sim.inject_sms("+33622222222", EMOJI_TEXT)
        assert sim.state()["faults"] == [f"drop_urcs:{100 - len(indexes)}"]
        await rec.wait_until(lambda evs: len(texts(evs)) == 2)
        await asyncio.sleep(1.0)  # three more sweeps: still on the SIM, but not emitted again
        assert sorted(texts(rec.events)) == sorted(["no URC for me", EMOJI_TEXT])
        assert len(rec.of(SmsReceived)) == 2


async def test_a_message_whose_delete_failed_is_shown_again_by_the_next_sweep(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, running(sim, sweep_interval=0.3) as (backend, rec):
        await sim.inject_sms("+33611111111", "delete me")
        (first,) = await rec.wait_until(lambda evs: [e for e in evs if isinstance(e, SmsReceived)])
        await sim.fault("error:3")  # the storage switch and AT+CMGD both fail
        with pytest.raises(ModemError):
            await backend.delete(first.index, first.storage)
        assert len(sim.state()["stored"]) == 1
        # Still on the SIM: the caller gets it again (and deletes it then), not only after a reconnect.
        again = await rec.wait_until(lambda evs: [e for e in evs if isinstance(e, SmsReceived)][1:])
        assert pdu_key(again[0]) == pdu_key(first)
        await backend.delete(again[0].index, again[0].storage)
        assert sim.state()["stored"] == []


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_send_returns_mrs_and_status_report_arrives(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (backend, rec):
        parts = encode_submit("+33644444444", LONG_TEXT, concat_ref=42)
        mrs = await backend.send(parts)
        assert len(mrs) == len(parts) == 3
        sent = sim.state()["sent"]
        assert [s["mr"] for s in sent] == mrs
        assert [s["pdu"] for s in sent] == [p.hex for p in parts]
        reports = await rec.wait_until(
            lambda evs: (
                len([e for e in evs if isinstance(e, ReportReceived)]) == 3
                and [e for e in evs if isinstance(e, ReportReceived)]
            )
        )
        assert sorted(r.report.mr for r in reports) == sorted(mrs)
        assert all(r.report.outcome == "delivered" and r.report.number == "+33644444444" for r in reports)
        if personality == "quectel":
            # The EC25 has no CNMI ds=2: the fallback routes reports directly (+CDS), nothing stored.
            assert all(r.index is None for r in reports)
            assert sim.state()["settings"]["cnmi"][3] == 1
        else:
            assert all(r.index is not None for r in reports)  # +CDSI, then AT+CMGR
            assert {pdu_key(r) for r in reports} <= stored_keys(sim)


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_cms_error_on_send_is_a_typed_error_with_its_code(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (backend, _rec):
        await sim.fault("sms_error")
        with pytest.raises(CmsError) as info:
            await backend.send(encode_submit("+33644444444", "refused"))
        assert info.value.code == 38
        assert await backend.send(encode_submit("+33644444444", "accepted")) == [1]
        assert [s["text"] for s in sim.state()["sent"]] == ["accepted"]


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_a_call_rings_with_the_caller_number_and_ends(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (_backend, rec):
        await sim.ring("+33655555555", ring_seconds=0.25)
        await rec.wait_until(lambda evs: any(isinstance(e, CallEnded) for e in evs))
        rings = rec.of(CallRinging)
        assert rings and all(r.number == "+33655555555" for r in rings)
        # One event per RING (the simulator rings every 0.1 s): 2 to 4 of them, then the end.
        assert 2 <= len(rings) <= 4
        assert isinstance(rec.events[-1], CallEnded)


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_a_caller_giving_up_silently_ends_the_call_by_the_clcc_check(
    tmp_path: Path, personality: str
) -> None:
    # The modem prints no NO CARRIER/^CEND. RINGs come every 0.5 s, and the backend asks AT+CLCC after
    # 0.3 s without one: while the call is listed it is not ended, once it is gone it is.
    async with (
        simulated_modem(tmp_path, personality, fast={"ring_interval": 0.5}) as sim,
        running(sim, ring_gap=0.3) as (_backend, rec),
    ):
        await sim.ring("+33655555555")
        await rec.wait_until(lambda evs: len([e for e in evs if isinstance(e, CallRinging)]) >= 3)
        assert rec.of(CallEnded) == []  # 1 s of ringing: several CLCC checks found the call

        await sim.end_call(silent=True)
        await rec.wait_until(lambda evs: any(isinstance(e, CallEnded) for e in evs), limit=3)
        assert len(rec.of(CallEnded)) == 1
        await asyncio.sleep(0.5)
        assert len(rec.of(CallEnded)) == 1  # ended once, not again at every check


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_hangup_ends_a_ringing_call(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (backend, rec):
        await sim.ring("+33655555555")
        await rec.wait_until(lambda evs: any(isinstance(e, CallRinging) for e in evs))
        await backend.hangup()
        assert sim.state()["call"] is None


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_rssi_noise_inside_every_response_corrupts_nothing(tmp_path: Path, personality: str) -> None:
    # noise=True: ^RSSI/^BOOT between each info line and its OK, even after AT^CURC=0.
    async with simulated_modem(tmp_path, personality, noise=True) as sim:
        await sim.inject_sms("+33611111111", "stored before")
        async with running(sim) as (backend, rec):
            assert sim.state()["settings"]["noise"] is True  # so every answer below carried noise
            ident = await backend.identity()
            assert (ident.imei, ident.imsi, ident.iccid) == (sim.imei, sim.imsi, sim.iccid)
            await sim.inject_sms("+33622222222", LONG_TEXT)
            assert len(await backend.send(encode_submit("+33644444444", "hi"))) == 1
            await rec.wait_until(lambda evs: len(texts(evs)) == 2)
            assert sorted(texts(rec.events)) == sorted(["stored before", LONG_TEXT])
            assert not rec.of(Disconnected)


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_garbage_bytes_are_logged_and_survived(
    tmp_path: Path, personality: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="raspisms_daemon.gsm.at_transport")
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (backend, rec):
        await sim.fault("garbage")
        await sim.inject_sms("+33611111111", "after the noise")
        await rec.wait_until(lambda evs: texts(evs) == ["after the noise"])
        assert await backend.send(encode_submit("+33644444444", "still fine")) == [1]
        assert any("garbage" in r.getMessage() and getattr(r, "phone_id", None) == 7 for r in caplog.records)
        assert not rec.of(Disconnected)


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_a_stalled_modem_is_reset_and_works_again(tmp_path: Path, personality: str) -> None:
    async with (
        simulated_modem(tmp_path, personality) as sim,
        running(sim, command_timeout=0.5) as (backend, rec),
    ):
        await asyncio.sleep(0.2)  # let the first sweep finish
        await sim.fault("stall")
        await rec.wait_until(lambda evs: any(isinstance(e, Reconnected) for e in evs), limit=15)
        kinds = [type(e) for e in rec.events]
        assert kinds.index(Disconnected) < kinds.index(Reconnected)
        assert "stalled" not in sim.state()["faults"]  # AT+CFUN=1,1 rebooted it
        assert backend.state is BackendState.CONNECTED
        await sim.inject_sms("+33611111111", "after the reset")
        await rec.wait_until(lambda evs: "after the reset" in texts(evs))
        assert len(await backend.send(encode_submit("+33644444444", "and sending"))) == 1


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_unplug_and_replug_recovers_without_restart(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim, running(sim) as (backend, rec):
        await sim.fault("unplug")
        await rec.wait_until(lambda evs: any(isinstance(e, Disconnected) for e in evs))
        with pytest.raises(ModemGone):
            await backend.send(encode_submit("+33644444444", "nowhere to go"))
        await asyncio.sleep(0.3)
        await sim.fault("replug")
        await rec.wait_until(lambda evs: any(isinstance(e, Reconnected) for e in evs))
        await sim.inject_sms("+33611111111", "after the replug")
        await rec.wait_until(lambda evs: "after the replug" in texts(evs))
        assert len(await backend.send(encode_submit("+33644444444", "back"))) == 1


async def test_attach_retries_at_once_instead_of_waiting_out_the_backoff(tmp_path: Path) -> None:
    slow = ReconnectPolicy((30.0,))
    async with simulated_modem(tmp_path) as sim, running(sim, reconnect=slow) as (backend, rec):
        await sim.fault("unplug")
        await rec.wait_until(lambda evs: any(isinstance(e, Disconnected) for e in evs))
        await asyncio.sleep(0.1)  # the supervisor now sleeps 30 s waiting for the path
        await sim.fault("replug")
        await backend.attach()
        await rec.wait_until(lambda evs: any(isinstance(e, Reconnected) for e in evs), limit=5)


@pytest.mark.parametrize("personality", PERSONALITIES)
async def test_nothing_stored_is_deleted_unless_delete_is_called(tmp_path: Path, personality: str) -> None:
    async with simulated_modem(tmp_path, personality) as sim:
        await sim.inject_sms("+33611111111", "keep me")
        await sim.inject_sms("+33622222222", "delete me")
        async with running(sim, sweep_interval=0.3) as (backend, rec):
            await rec.wait_until(lambda evs: len(texts(evs)) == 2)
            before = stored_keys(sim)
            await backend.send(encode_submit("+33644444444", "a report comes back"))
            await rec.wait_until(lambda evs: any(isinstance(e, ReportReceived) for e in evs))
            await sim.fault("unplug")
            await sim.fault("replug")
            await rec.wait_until(lambda evs: any(isinstance(e, Reconnected) for e in evs))
            await asyncio.sleep(0.7)  # sweeps after the reconnect re-emit, never delete
            assert before <= stored_keys(sim)
            doomed = next(e for e in rec.of(SmsReceived) if e.message.text == "delete me")
            await backend.delete(doomed.index, doomed.storage)
            assert doomed.index not in {i for i, _ in stored_keys(sim)}
            assert before - stored_keys(sim) == {pdu_key(doomed)}
            # Still there after more sweeps, and the kept message is still on the SIM.
            count = len(rec.of(SmsReceived))
            await asyncio.sleep(0.7)
            assert before - stored_keys(sim) == {pdu_key(doomed)}
            assert all(e.message.text != "delete me" for e in rec.of(SmsReceived)[count:])


async def test_wrong_pin_is_a_typed_error_and_is_tried_only_once(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="1234") as sim:
        backend = SerialAtBackend(phone_for(sim, pin="0000"), command_timeout=1.0)
        with pytest.raises(CmeError) as info:
            await backend.start()
        assert info.value.code == 16
        assert "0000" not in str(info.value)
        # One attempt used, two left: the SIM is not locked by retries.
        assert sim.state()["settings"]["pin_attempts"] == 2
        assert sim.state()["settings"]["sim"] == "SIM PIN"


async def test_a_refused_pin_is_not_sent_again_by_a_rebuilt_backend(tmp_path: Path) -> None:
    # The phone supervisor builds a fresh backend after a failed start: were the wrong PIN entered at
    # every retry, the third one would lock the SIM (PUK).
    pins = RefusedPins()  # what the daemon hands to every backend it builds
    async with simulated_modem(tmp_path, pin="1234") as sim:
        for _ in range(3):
            backend = SerialAtBackend(phone_for(sim, pin="0000"), command_timeout=1.0, refused_pins=pins)
            with pytest.raises(CmeError, match="refused the configured PIN") as info:
                await backend.start()
            assert info.value.code == 16
            await backend.stop()
        assert sim.state()["settings"]["pin_attempts"] == 2
        assert sim.state()["settings"]["sim"] == "SIM PIN"


async def test_a_reconnect_that_meets_a_refused_pin_gives_up(tmp_path: Path) -> None:
    pins = RefusedPins()
    async with simulated_modem(tmp_path, pin="1234") as sim:
        backend = SerialAtBackend(
            phone_for(sim, pin="1234"),
            command_timeout=0.5,
            reconnect=ReconnectPolicy((0.05,)),
            refused_pins=pins,
        )
        await backend.start()
        recorder = ModemEvents(backend)
        try:
            pins.remember(str(sim.link), "1234")  # as if another backend had seen the SIM refuse it
            await sim.fault("stall")  # the reset (AT+CFUN=1,1) reboots the modem: the SIM wants its PIN
            await recorder.wait_until(lambda _evs: backend.state is BackendState.FAILED, limit=15)
            assert "refused the configured PIN before" in recorder.of(Disconnected)[-1].reason
            assert sim.state()["settings"]["pin_attempts"] == 3  # not entered again
            assert sim.state()["settings"]["sim"] == "SIM PIN"
            assert not recorder.of(Reconnected)
        finally:
            await backend.stop()


async def test_missing_pin_is_a_typed_error(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="1234") as sim:
        backend = SerialAtBackend(phone_for(sim, pin=None), command_timeout=1.0)
        with pytest.raises(CmeError) as info:
            await backend.start()
        assert info.value.code == 11


async def test_configured_pin_unlocks_the_sim(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="1234") as sim, running(sim) as (backend, _rec):
        assert sim.state()["settings"]["sim"] == "READY"
        assert (await backend.identity()).imsi == sim.imsi


async def test_start_on_a_missing_device_raises_modem_gone(tmp_path: Path) -> None:
    backend = SerialAtBackend(PhoneConfig(id=1, device=str(tmp_path / "nothing")))
    with pytest.raises(ModemGone):
        await backend.start()


async def test_stop_leaves_no_task_behind_and_ends_the_event_stream(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        before = asyncio.all_tasks()
        backend = SerialAtBackend(phone_for(sim), command_timeout=1.0)
        await backend.start()
        recorder = ModemEvents(backend)
        await sim.inject_sms("+33611111111", "hi")
        await recorder.wait_until(lambda evs: texts(evs) == ["hi"])
        await backend.stop()
        await asyncio.wait_for(recorder.task, 2.0)  # the stream ended
        await backend.stop()  # twice is fine
        leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
        assert leftover == set()
        with pytest.raises(ModemGone):
            await backend.send(encode_submit("+33644444444", "after stop"))


async def test_stop_during_recovery_leaves_no_task_behind(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        before = asyncio.all_tasks()
        backend = SerialAtBackend(phone_for(sim), command_timeout=1.0, reconnect=ReconnectPolicy((30.0,)))
        await backend.start()
        recorder = ModemEvents(backend)
        await sim.fault("unplug")
        await recorder.wait_until(lambda evs: any(isinstance(e, Disconnected) for e in evs))
        await backend.stop()
        await asyncio.wait_for(recorder.task, 2.0)
        assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()


async def test_the_pin_never_reaches_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="raspisms_daemon.gsm")
    async with simulated_modem(tmp_path, pin="9876") as sim, running(sim) as (backend, _rec):
        assert (await backend.identity()).imsi == sim.imsi
    assert any("CPIN" in r.getMessage() for r in caplog.records)  # the dialogue was logged…
    assert not any("9876" in r.getMessage() for r in caplog.records)  # …without the PIN


async def test_every_line_of_the_backend_and_its_port_carries_the_phone_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The journal field PHONE_ID: `journalctl PHONE_ID=7` shows the modem's lines with the phone's own.
    caplog.set_level(logging.DEBUG, logger="raspisms_daemon.gsm")
    async with simulated_modem(tmp_path) as sim, running(sim) as (backend, rec):
        await sim.inject_sms("+33611111111", "hi")
        await rec.wait_until(lambda evs: texts(evs) == ["hi"])
        await backend.send(encode_submit("+33644444444", "hello"))
    ours = [
        r
        for r in caplog.records
        if r.name in ("raspisms_daemon.gsm.serial_at", "raspisms_daemon.gsm.at_transport")
    ]
    assert {r.name for r in ours} == {"raspisms_daemon.gsm.serial_at", "raspisms_daemon.gsm.at_transport"}
    assert {getattr(r, "phone_id", None) for r in ours} == {7}
    assert not any("phone=" in r.getMessage() for r in ours)  # the id is a field, not text


async def test_sms_handed_over_directly_by_cmt_has_no_index(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, running(sim) as (_backend, rec):
        sim.set_cnmi(2, 2, 0, 2, 0)  # a modem configured for direct delivery (mt=2) by someone else
        assert await sim.inject_sms("+33611111111", "direct") == []
        await rec.wait_until(lambda evs: texts(evs) == ["direct"])
        (event,) = rec.of(SmsReceived)
        assert event.index is None and event.storage == ""


async def test_an_undecodable_stored_pdu_is_reported_raw_and_not_deleted(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        broken = "07913316020000F0040B9133"  # cut in the middle of the originating address
        index = await sim.inject_raw_pdu(broken)
        async with running(sim) as (_backend, rec):
            (event,) = await rec.wait_until(lambda evs: [e for e in evs if isinstance(e, UndecodableSms)])
            assert (event.index, event.pdu) == (index, broken)
            assert event.error
            assert stored_keys(sim) == {(index, broken)}
