"""The gammu backend through libgammu's own AT driver, against the project's simulator on a real pty.

libgammu's Init paces itself (about 5 s against the simulator), so the tests of this module share one
simulator and one backend (module-scoped, on a module-scoped event loop). Each test looks only at the
events that arrived after its own mark and leaves the simulator's storage empty. Faults (stall, unplug)
are in test_gammu_backend_faults.py, with a backend of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from raspisms_daemon.config import PhoneConfig
from raspisms_daemon.gsm.gammu_backend import GammuBackend
from raspisms_daemon.gsm.modem import CallEnded, CallRinging, ReportReceived, SmsReceived
from raspisms_daemon.gsm.pdu import SubmitPdu, decode, encode_submit
from raspisms_daemon.gsm.policy import ReconnectPolicy
from raspisms_daemon.phones.multipart import Part, assemble
from raspisms_daemon.simulator import Simulator
from tests.helpers.machine import import_or_skip
from tests.helpers.modem_events import ModemEvents
from tests.helpers.simulator import simulated_modem

gammu = import_or_skip("gammu", "python-gammu", "python3-gammu")

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(90)]


def phone_for(sim: Simulator, phone_id: int = 7) -> PhoneConfig:
    return PhoneConfig(
        id=phone_id, backend="gammu", device=str(sim.link), gammu_connection="at", poll_interval=0.2
    )


class Rig:
    def __init__(self, sim: Simulator, backend: GammuBackend, events: ModemEvents) -> None:
        self.sim, self.backend, self.events = sim, backend, events


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    tmp: Path = tmp_path_factory.mktemp("gammu_at")
    async with simulated_modem(tmp) as sim:
        backend = GammuBackend(phone_for(sim), call_timeout=20.0, reconnect=ReconnectPolicy((0.2,)))
        await backend.start()
        try:
            yield Rig(sim, backend, ModemEvents(backend))
        finally:
            await backend.stop()


def _stored(sim: Simulator) -> list[int]:
    return sorted(slot["index"] for slot in sim.state()["stored"])


async def test_receives_single_and_multipart_messages_and_deletes_only_when_asked(rig: Rig) -> None:
    sim, backend, events = rig.sim, rig.backend, rig.events
    mark = events.mark()
    long_text = "Réunion demain 9h, salle B. " * 8  # é is GSM-7: 224 septets, two parts
    (single,) = await sim.inject_sms("+33611223344", "hello through libgammu")
    multi = await sim.inject_sms("+33655667788", long_text)
    assert len(multi) == 2

    received = await events.wait_for(SmsReceived, count=3, timeout=10, since=mark)

    by_index = {e.index: e for e in received}
    assert set(by_index) == {single, *multi}
    assert by_index[single].message.number == "+33611223344"
    assert by_index[single].message.text == "hello through libgammu"
    parts = [by_index[i].message for i in multi]
    assert {p.concat.ref for p in parts if p.concat} == {parts[0].concat.ref if parts[0].concat else -1}
    assert assemble({p.concat.seq: Part(p.text) for p in parts if p.concat}) == long_text
    assert _stored(sim) == sorted([single, *multi])  # nothing deleted on the backend's own initiative

    for event in received:
        await backend.delete(event.index, event.storage)  # as the supervisor does after its commit
    assert _stored(sim) == []
    await asyncio.sleep(0.5)  # more sweeps: nothing comes out twice
    assert len(events.of(SmsReceived, since=mark)) == 3


async def test_send_with_a_report_request_gets_the_status_report_back(rig: Rig) -> None:
    sim, backend, events = rig.sim, rig.backend, rig.events
    mark, already_sent = events.mark(), len(sim.state()["sent"])
    sim.set_reports("delivered")

    refs = await backend.send(encode_submit("+33699887766", "ping", status_report=True))

    (sent,) = sim.state()["sent"][already_sent:]
    submitted = decode(sent["pdu"])
    assert isinstance(submitted, SubmitPdu)
    assert submitted.status_report_request  # libgammu set TP-SRR for Type = Status_Report
    assert submitted.number == "+33699887766" and submitted.text == "ping"
    assert refs == [sent["mr"]]
    (report,) = await events.wait_for(ReportReceived, timeout=10, since=mark)
    assert report.report.mr == refs[0]
    assert report.report.number == "+33699887766"
    assert report.report.outcome == "delivered"
    assert report.index is not None
    await backend.delete(report.index, report.storage)
    assert _stored(sim) == []


async def test_a_multipart_send_returns_one_reference_per_part(rig: Rig) -> None:
    sim, backend = rig.sim, rig.backend
    already_sent = len(sim.state()["sent"])
    sim.set_reports("none")
    parts = encode_submit("+33699887766", "ж" * 100, concat_ref=77, status_report=False)

    refs = await backend.send(parts)

    sent = sim.state()["sent"][already_sent:]
    assert refs == [s["mr"] for s in sent] and len(set(refs)) == 2
    decoded = [decode(s["pdu"]) for s in sent]
    assert all(isinstance(d, SubmitPdu) for d in decoded)
    assert [d.concat.seq for d in decoded if isinstance(d, SubmitPdu) and d.concat] == [1, 2]
    assert "".join(d.text for d in decoded if isinstance(d, SubmitPdu)) == "ж" * 100


async def test_a_ringing_call_and_its_end_come_out_as_events(rig: Rig) -> None:
    sim, events = rig.sim, rig.events
    mark = events.mark()

    await sim.ring("+33644556677")
    rings = await events.wait_for(CallRinging, timeout=10, since=mark)
    await sim.end_call()
    await events.wait_for(CallEnded, timeout=10, since=mark)

    assert rings[0].number == "+33644556677"


async def test_identity_through_the_at_driver_names_the_modem_operator_and_registration(rig: Rig) -> None:
    identity = await rig.backend.identity()
    assert identity.imei == "867000000000001"
    assert identity.imsi == "208150000000001"
    assert identity.manufacturer == "RaspiSMS"
    # libgammu reads it with AT+COPS; python-gammu before 3.3 passes the name on empty, and the
    # backend then names the operator of the code (208 15) from libgammu's table.
    assert identity.operator in {"SIMNET", gammu.GSMNetworks["208 15"]}
    assert identity.registration == "home"  # and this with AT+CREG?
    assert identity.signal == rig.sim.rssi
