"""Recorded answers of real modems (tests/data/corpus) replayed through the AT backend's own init and
listing code, on a real pty: the simulator gives each capture, exactly as recorded, as the answer to
its command (``Simulator.answer_once``), and the backend does what it does with a real modem.

Where the source gives only the info text of an answer (ModemManager's strings), OK is added; where
it asserts there is no final result (Wavecom's +CPIN), none is. The deliberate differences from the
sources are those listed in test_corpus_at.py; the ones that change what the backend does are named
again here where they apply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.errors import CmeError, ModemError
from raspisms_daemon.gsm.at_protocol import is_hex, parse_cpms_test
from raspisms_daemon.gsm.modem import ModemEvent, ReportReceived, SmsReceived, UndecodableSms
from raspisms_daemon.gsm.pdu import encode_deliver
from raspisms_daemon.gsm.serial_at import SerialAtBackend
from raspisms_daemon.simulator import Simulator
from tests.helpers.simulator import simulated_modem

from .test_corpus_at import DIFFERENCES, LISTINGS, REGISTRATION, RESPONSES, replay
from .test_serial_at import phone_for, running

pytestmark = pytest.mark.timeout(120)

GOOD = encode_deliver("+33611111111", "sentinel", scts=datetime(2024, 1, 2, tzinfo=UTC))[0]


def answer(case: dict[str, Any]) -> str:
    """The capture as the modem sends it: its own line ends, and OK where the source left it out."""
    raw: str = case["raw"]
    if not raw.endswith(("\r", "\n")):
        raw += "\r\n"
    # Wavecom's +CPIN, as python-gsmmodem's fixture and gammu's CPINNoOK test have it: no final result.
    no_final = "final_result" in case["expect"] or "gammu_reply_state_when_CPINNoOK" in case["expect"]
    run = replay(case["command"], case["raw"])
    if (run.final_appended or run.ended_on_info_line) and not no_final:
        raw += "\r\nOK\r\n"
    return raw


def kind_of(pdu: str) -> str:
    """What the backend emits for a stored PDU, by its message type indicator (TS 23.040 §9.2.3.1)."""
    raw = bytes.fromhex(pdu)
    return {0: "sms", 1: "ignored", 2: "report"}[raw[raw[0] + 1] & 0x03]


def emitted(events: list[ModemEvent]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, SmsReceived):
            out.append(("sms", event.pdu))
        elif isinstance(event, ReportReceived):
            out.append(("report", event.pdu))
        elif isinstance(event, UndecodableSms):
            out.append(("undecodable", event.pdu))
    return out


def expected_taken_in(case: dict[str, Any]) -> list[tuple[str, str]]:
    """What the backend should hand over for a listing, from what its source asserts."""
    expect, difference = case["expect"], DIFFERENCES.get(case["id"])
    body = "\n".join(line.strip() for line in case["lines"][1:] if line != "OK")
    # Kept raw: the codec's hex, or the lines; a header alone holds nothing to keep (left on the SIM).
    unreadable = [("undecodable", body.upper() if is_hex(body) else body)] if body else []
    if difference is not None and ("*" in difference.ours or difference.ours.get("gammu_parses") is False):
        return unreadable  # text mode; a PDU cut short
    if difference is not None and "entries" in difference.ours:  # odd hex digits: kept raw
        return [("undecodable", entry["pdu"]) for entry in expect["entries"]]
    if expect.get("empty") or expect.get("entries") == []:
        return []
    if "entries" in expect:
        pdus = [entry["pdu"] for entry in expect["entries"]]
    elif "messages" in expect:
        pdus = [line for line in case["lines"] if is_hex(line)][: expect["messages"]]
    elif "gammu_parses_header" in expect:
        return []  # a header without its PDU line: nothing to keep, left on the SIM
    elif expect.get("gammu_parses") is False:
        return unreadable
    else:
        pdus = [expect["pdu"]]
    return [(kind_of(pdu), pdu) for pdu in pdus if kind_of(pdu) != "ignored"]


@contextlib.asynccontextmanager
async def started(sim: Simulator) -> AsyncIterator[SerialAtBackend]:
    backend = SerialAtBackend(phone_for(sim), command_timeout=5.0)
    try:
        await backend.start()
        yield backend
    finally:
        await backend.stop()


# -- init: AT+CPMS=? and AT+CPIN? ------------------------------------------------------------------

CPMS_TEST = [c for c in RESPONSES if c["command"] == "AT+CPMS=?"]


@pytest.mark.parametrize("case", CPMS_TEST, ids=[c["id"] for c in CPMS_TEST])
async def test_a_recorded_cpms_test_answer_leads_to_storages_it_offers(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    async with simulated_modem(tmp_path) as sim:
        sim.answer_once("AT+CPMS=?", answer(case))
        async with started(sim):
            heard = sim.state()["heard"]
        chosen = [cmd for cmd in heard[heard.index("AT+CPMS=?") :] if cmd.startswith("AT+CPMS=")][1]
    storages = chosen.removeprefix("AT+CPMS=").replace('"', "").split(",")
    expect, offered = case["expect"], parse_cpms_test([case["raw"]])
    for i, mem in enumerate(("mem1", "mem2", "mem3")):
        if expect.get(mem) and i < len(storages):
            assert storages[i] in expect[mem], (mem, chosen)
    ours = DIFFERENCES[case["id"]].ours if case["id"] in DIFFERENCES else {}
    for key, at in (("gammu_read", 0), ("gammu_save", 1)):
        if key in expect and key not in ours:
            assert expect[key][storages[at]], (key, chosen)  # a storage gammu reads or saves to
    if "python_gsmmodem_then_sends" in expect:
        assert chosen == ours.get("python_gsmmodem_then_sends", expect["python_gsmmodem_then_sends"])
    assert len(storages) == (2 if len(offered) == 2 else 3)  # as many parameters as the modem lists


CPIN = [c for c in RESPONSES if c["command"] == "AT+CPIN?"]
# What init does for the state each source names: go on (None), or stop with this +CME code.
CPIN_OUTCOME = {
    "READY": None, "SIM_PIN": 11, "SIM PIN": 11, "SIM_PUK": 12, "SIM PUK": 12,
    "SIM_PUK2": 12,  # read as a PUK lock: see mm-cpin-3 in test_corpus_at.DIFFERENCES
    "PH_NET_PIN": 10,  # never typed: "SIM not ready", see mm-cpin-7
    "UNKNOWN": 100,  # the +CME ERROR the modem gave instead
}  # fmt: skip


@pytest.mark.parametrize("case", CPIN, ids=[c["id"] for c in CPIN])
async def test_a_recorded_cpin_answer_unlocks_or_stops_init_as_it_says_and_never_hangs(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    state = case["expect"].get("pin_state") or case["expect"].get("mm_lock") or "READY"
    async with simulated_modem(tmp_path) as sim:
        sim.answer_once("AT+CPIN?", answer(case))
        async with asyncio.timeout(15):  # an answer without OK must not stall init
            if CPIN_OUTCOME[state] is None:
                async with started(sim) as backend:
                    assert (await backend.identity()).imsi == sim.imsi
            else:
                with pytest.raises(CmeError) as info:
                    async with started(sim):
                        pass
                assert info.value.code == CPIN_OUTCOME[state]


# -- registration: the AT+CREG? answer and the URC -------------------------------------------------


async def test_every_recorded_creg_answer_gives_the_registration_it_names(tmp_path: Path) -> None:
    cases = [c for c in RESPONSES if c["command"] == "AT+CREG?"]
    assert len(cases) > 10
    async with simulated_modem(tmp_path) as sim, started(sim) as backend:
        for case in cases:
            sim.answer_once("AT+CREG?", answer(case))
            registration = (await backend.identity()).registration
            if "stat" in case["expect"]:
                assert registration == REGISTRATION[case["expect"]["stat"]], case["id"]
            elif "+CREG:" in case["raw"]:
                assert registration is not None, case["id"]  # gammu's captures: it parses them


async def test_every_recorded_creg_urc_gives_the_registration_it_names(tmp_path: Path) -> None:
    cases = [c for c in RESPONSES if c["command"] is None and c["expect"].get("kind") == "+CREG"]
    assert len(cases) > 10
    async with simulated_modem(tmp_path) as sim, running(sim) as (backend, _rec):
        for case in cases:
            want = REGISTRATION[case["expect"]["stat"]]
            line, reset = ("+CREG: 3", "denied") if want != "denied" else ("+CREG: 1", "home")
            sim.send_urc(line)  # a known state first, so that the case's own is seen to arrive
            await until(lambda: backend._identity.registration == reset, line)  # noqa: B023
            sim.send_urc(*[line for line in case["raw"].splitlines() if line.strip()])
            await until(lambda: backend._identity.registration == want, case["id"])  # noqa: B023


async def until(predicate: Any, what: str = "", limit: float = 5.0) -> None:
    """The URC updates the identity the backend keeps; nothing else announces it."""
    try:
        async with asyncio.timeout(limit):
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"not reached: {what}")


# -- stored messages: +CMTI then AT+CMGR, and the sweep's AT+CMGL ------------------------------------


async def test_every_recorded_cmgr_answer_is_taken_in_as_its_source_says(tmp_path: Path) -> None:
    cases = [c for c in LISTINGS if c["command"].startswith("AT+CMGR")]
    assert len(cases) > 40
    async with simulated_modem(tmp_path) as sim, running(sim) as (backend, rec):
        for case in cases:
            index = int(case["command"].removeprefix("AT+CMGR=").replace("<n>", "1"))
            mark = rec.mark()
            sim.answer_once(f"AT+CMGR={index}", answer(case))
            sim.send_urc(f'+CMTI: "SM",{index}')
            # A message known to arrive after it: what came before it is all the case gave.
            sim.answer_once("AT+CMGR=250", f"+CMGR: 0,,23\r\n{GOOD}\r\nOK\r\n")
            sim.send_urc('+CMTI: "SM",250')
            await rec.wait_until(lambda evs: ("sms", GOOD) in emitted(evs[mark:]))  # noqa: B023
            got = emitted(rec.events[mark:])
            assert got[:-1] == expected_taken_in(case), case["id"]
            for slot in {index, 250}:  # as the supervisor does once it committed them
                with contextlib.suppress(ModemError):
                    await backend.delete(slot, "SM")


CMGL = [c for c in LISTINGS if c["command"].startswith("AT+CMGL")]


@pytest.mark.parametrize("case", CMGL, ids=[c["id"] for c in CMGL])
async def test_a_recorded_cmgl_listing_is_taken_in_by_the_sweep_as_its_source_says(
    tmp_path: Path, case: dict[str, Any]
) -> None:
    async with simulated_modem(tmp_path) as sim:
        sim.answer_once("AT+CMGL=4", answer(case))
        swept = asyncio.Event()
        sim.on_command = lambda line: swept.set() if line == 'AT+CPMS="ME"' else None
        async with running(sim) as (_backend, rec):
            # The sweep lists SM (the recording) before it moves on to ME.
            await asyncio.wait_for(swept.wait(), 10)
            assert emitted(rec.events) == expected_taken_in(case)
