"""The AT backend end to end against the quirks of real modems the simulator imitates, on a real pty:
the Wavecom personality (+CPIN without OK, two storage parameters), every AT+CPMS=? form, bare-CR
line ends, malformed stored messages, registration URCs that carry <n>, MODEM ERROR, status reports
with a time zone that is no number, and national language SMS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from raspisms_daemon.errors import ModemError
from raspisms_daemon.gsm.modem import ReportReceived, SmsReceived, UndecodableSms
from raspisms_daemon.gsm.pdu import encode_submit
from raspisms_daemon.phones.multipart import Part, assemble
from raspisms_daemon.simulator.personality import CPMS_FORMS, cpms_offer
from tests.helpers.simulator import simulated_modem

from .test_serial_at import LONG_TEXT, running, stored_keys, texts

pytestmark = pytest.mark.timeout(60)

TURKISH = "Çalışma saatleri değişti: Şubat ayında İstanbul ofisi 09:00-18:00 açık, ğüşıöç. " * 3


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait until ``predicate()`` holds, or fail after ``limit``: the backend has no event for what is
    awaited (a registration change), so it is looked at as the event loop turns."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("line_endings", ["crlf", "cr"])
async def test_a_wavecom_modem_is_initialised_used_and_swept(
    tmp_path: Path, line_endings: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="raspisms_daemon.gsm")
    async with simulated_modem(tmp_path, "wavecom", line_endings=line_endings) as sim:
        await sim.inject_sms("+33611111111", "stored before the start")
        async with running(sim, command_timeout=5.0) as (backend, rec):
            # +CPIN: READY came without OK: the answer ended on its info line, init went on.
            assert any("ended on its info line" in r.getMessage() for r in caplog.records)
            heard = sim.state()["heard"]
            assert 'AT+CPMS="SM","SM"' in heard  # two parameters, each one the modem offers
            assert not any(cmd.startswith("AT+CPMS=") and cmd.count(",") > 1 for cmd in heard)
            assert sim.state()["settings"]["mems"][:2] == ["SM", "SM"]
            await sim.inject_sms("+33622222222", LONG_TEXT)
            await rec.wait_until(lambda evs: len(texts(evs)) == 2)
            assert sorted(texts(rec.events)) == sorted(["stored before the start", LONG_TEXT])
            mrs = await backend.send(encode_submit("+33644444444", "from a wavecom"))
            (report,) = await rec.wait_for(ReportReceived)
            assert report.report.mr == mrs[0] and report.report.outcome == "delivered"
            assert (await backend.identity()).manufacturer == "WAVECOM MODEM"


@pytest.mark.parametrize("form", CPMS_FORMS)
@pytest.mark.parametrize("personality", ["generic", "huawei"])
async def test_the_storage_chosen_is_one_the_modem_offers_in_every_cpms_form(
    tmp_path: Path, personality: str, form: str
) -> None:
    async with simulated_modem(tmp_path, personality, cpms_form=form) as sim:
        await sim.inject_sms("+33611111111", "before the start")
        async with running(sim) as (backend, rec):
            offered = cpms_offer(sim.profile, form)
            mems = sim.state()["settings"]["mems"]
            assert all(mems[i] in names for i, names in enumerate(offered))
            await sim.inject_sms("+33622222222", "after the start")
            await rec.wait_until(lambda evs: len(texts(evs)) == 2)
            for event in rec.of(SmsReceived):
                await backend.delete(event.index, event.storage)
            assert sim.state()["stored"] == []


@pytest.mark.parametrize("personality", ["generic", "huawei", "quectel", "sim800", "wavecom"])
async def test_bare_cr_line_ends_carry_messages_sending_and_reports(tmp_path: Path, personality: str) -> None:
    async with (
        simulated_modem(tmp_path, personality, line_endings="cr") as sim,
        running(sim, command_timeout=5.0) as (backend, rec),
    ):
        await sim.inject_sms("+33611111111", LONG_TEXT)
        await rec.wait_until(lambda evs: texts(evs) == [LONG_TEXT])
        mrs = await backend.send(encode_submit("+33644444444", "CR only"))
        (report,) = await rec.wait_for(ReportReceived)
        assert report.report.mr == mrs[0]
        assert (await backend.identity()).imei == sim.imei


async def test_malformed_stored_messages_are_reported_raw_and_a_stray_quote_costs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="raspisms_daemon.gsm.serial_at")
    odd = "079100F40D1101000F001000B917118336058F300001954747A0E4ACF41F27298CDCE83C6EF371B0402814020"
    async with simulated_modem(tmp_path) as sim:
        good_index = (await sim.inject_sms("+33611111111", "with a quote after it"))[0]
        good = sim.state()["stored"][0]["pdu"]
        listing = f'+CMGL: 17,3,35\r\n{odd}\r\n+CMGL: {good_index},1,,24\r\n{good}"\r\nOK\r\n'
        sim.answer_once("AT+CMGL=4", listing)
        async with running(sim) as (backend, rec):
            (undecodable,) = await rec.wait_for(UndecodableSms)
            (sms,) = await rec.wait_for(SmsReceived)
            assert (undecodable.index, undecodable.storage, undecodable.pdu) == (17, "SM", odd)
            assert "odd number of hex digits (89)" in undecodable.error
            assert "+CMGL: 17,3,35" in undecodable.error
            assert (sms.index, sms.pdu, sms.message.text) == (good_index, good, "with a quote after it")
            assert any("ignored what surrounds the PDU" in r.getMessage() for r in caplog.records)
            # Reported, so the supervisor can keep it and free the slot: the delete goes through.
            await backend.delete(undecodable.index, undecodable.storage)
            assert "AT+CMGD=17" in sim.state()["heard"]
            # The same answer read after a +CMTI is reported the same way, never logged as "empty".
            sim.answer_once("AT+CMGR=5", f"+CMGR: 0,,35\r\n{odd}\r\nOK\r\n")
            sim.send_urc('+CMTI: "SM",5')
            (_, again) = await rec.wait_for(UndecodableSms, count=2)
            assert (again.index, again.pdu) == (5, odd)
            assert not any("is empty" in r.getMessage() for r in caplog.records)


async def test_a_registration_urc_that_carries_n_is_read_by_its_fields(tmp_path: Path) -> None:
    # The URC updates the identity the backend keeps (identity() would ask the modem again).
    async with simulated_modem(tmp_path) as sim, running(sim) as (backend, _rec):
        assert (await backend.identity()).registration == "home"
        sim.send_urc('+CREG: 2,5,"0502","0404736D"')  # Sony-Ericsson MD400: <n> first, roaming
        await until(lambda: backend._identity.registration == "roaming")
        sim.send_urc("+CREG: 2,,")  # <stat> with empty location: searching
        await until(lambda: backend._identity.registration == "searching")


async def test_modem_error_ends_a_send_at_once_as_a_refusal(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, running(sim, command_timeout=30.0) as (backend, _rec):
        part = encode_submit("+33644444444", "refused by a Motorola")[0]
        sim.answer_once(f"AT+CMGS={part.tpdu_length}", "\r\nMODEM ERROR: 5\r\n")
        async with asyncio.timeout(5):  # the command's 30 s timeout is never reached
            with pytest.raises(ModemError, match="MODEM ERROR 5"):
                await backend.send([part])
        assert await backend.send([part]) == [1]


async def test_a_status_report_whose_time_zone_is_no_number_is_matched_by_mr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="raspisms_daemon.gsm.serial_at")
    sr_pdu3 = "00" + "0606098121436587F9019012413064A0019012413045A000"  # oFono's sr_pdu3, SMSC field first
    async with simulated_modem(tmp_path) as sim, running(sim) as (_backend, rec):
        index = await sim.inject_raw_pdu(sr_pdu3, kind="status_report")
        (report,) = await rec.wait_for(ReportReceived)
        assert (report.index, report.report.mr, report.report.outcome) == (index, 6, "delivered")
        assert any("time zone octet A0 is not BCD" in r.getMessage() for r in caplog.records)
        assert not rec.of(UndecodableSms)


async def test_a_national_language_sms_arrives_whole_and_survives_reassembly(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, running(sim) as (_backend, rec):
        indexes = await sim.inject_sms("+905321234567", TURKISH, locking=1, single=1)
        assert len(indexes) == 2  # UCS-2 would take 4 parts
        parts = await rec.wait_for(SmsReceived, count=2)
        messages = [p.message for p in parts]
        assert {m.encoding for m in messages} == {"gsm7;locking=1;single=1"}
        assert texts(rec.events) == [TURKISH]
        # What the phone supervisor does with the parts it stored (text, encoding, data of each).
        stored = {m.concat.seq: Part(m.text, m.encoding, m.data) for m in messages if m.concat}
        assert assemble(stored) == TURKISH
        assert {pdu for _index, pdu in stored_keys(sim)} == {p.pdu for p in parts}

