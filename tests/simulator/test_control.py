"""The control socket: requests carried out on a simulator, and the socket as another process sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from raspisms_daemon.gsm.pdu import DeliverPdu, decode
from raspisms_daemon.simulator import (
    ControlError,
    ControlServer,
    Simulator,
    SimulatorError,
    control_path,
    control_request,
)
from raspisms_daemon.simulator.control import handle_request
from tests.helpers.simulator import SerialPeer, simulated_modem

pytestmark = pytest.mark.timeout(30)

SENDER = "+33611111111"


def test_the_control_socket_sits_next_to_the_link() -> None:
    assert control_path("/run/modem0") == Path("/run/modem0.ctl")
    assert control_path(Path("rel/modem")) == Path("rel/modem.ctl")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "Expecting value"),
        (b"[1, 2]", "a request is a JSON object"),
        (b'{"op": "sms", "text": "hi"}', "'from' is required (a string)"),
        (b'{"op": "sms", "from": "+33611111111", "text": "hi", "scts": "2024-01-02T03:04:05"}', "time zone"),
        (b'{"op": "sms", "from": "+33611111111", "text": 7}', "'text' is required"),
        (b'{"op": "sms", "from": "+3361111111122222222222", "text": "hi"}', "bad text or number"),
        (b'{"op": "reports", "mode": "sometimes"}', "unknown report mode"),
        (b'{"op": "fault", "kind": "unplug"}', "simulator not started"),
        (b'{"op": "launch"}', "unknown op 'launch'"),
    ],
)
async def test_a_bad_request_gets_an_error_and_changes_nothing(
    tmp_path: Path, line: bytes, error: str
) -> None:
    sim = Simulator(tmp_path / "modem")  # never started: requests need no pty
    reply = await handle_request(sim, line)
    assert reply["ok"] is False and error in reply["error"]
    assert sim.state()["stored"] == [] and sim.state()["faults"] == []


async def test_requests_act_on_the_simulator_without_a_pty(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "modem")
    sms = b'{"op": "sms", "from": "+33611111111", "text": "hi", "scts": "2024-01-02T03:04:05+01:00"}'
    assert await handle_request(sim, sms) == {"ok": True, "indexes": [1]}
    message = decode(sim.state()["stored"][0]["pdu"])
    assert isinstance(message, DeliverPdu) and message.scts.isoformat() == "2024-01-02T03:04:05+01:00"
    assert await handle_request(sim, b'{"op": "reports", "mode": "none", "delay": 2}') == {"ok": True}
    state = (await handle_request(sim, b'{"op": "state"}'))["state"]
    assert state["reports"] == {"mode": "none", "delay": 2.0}


async def test_requests_that_fail_in_the_simulator_say_why(tmp_path: Path) -> None:
    sim = Simulator(tmp_path / "modem", capacity=1)
    await sim.inject_sms(SENDER, "fills it")
    reply = await handle_request(sim, b'{"op": "sms", "from": "+33611111111", "text": "no room"}')
    assert reply == {"ok": False, "error": "storage full (1/1 used)"}


async def test_control_socket_injects_and_reports_state(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        ctl = control_path(sim.link)
        reply = await control_request(ctl, {"op": "sms", "from": SENDER, "text": "via socket"})
        assert reply == {"ok": True, "indexes": [1]}
        assert (await control_request(ctl, {"op": "fault", "kind": "bogus"}))["ok"] is False
        bad = await control_request(ctl, {"op": "nope"})
        assert bad["ok"] is False and "unknown op" in bad["error"]
        assert (await control_request(ctl, {"op": "reports", "mode": "failed", "delay": 1}))["ok"]
        state = (await control_request(ctl, {"op": "state"}))["state"]
        assert state["reports"] == {"mode": "failed", "delay": 1.0}
        assert state["stored"][0]["kind"] == "deliver" and state["stored"][0]["read"] is False
        assert (await control_request(ctl, {"op": "call", "from": SENDER}))["ok"]
        assert sim.state()["call"] == {"number": SENDER, "state": "ringing"}
        assert (await control_request(ctl, {"op": "end_call"}))["ok"]
        assert sim.state()["call"] is None


async def test_a_simulator_has_no_control_socket_until_someone_serves_one(tmp_path: Path) -> None:
    async with Simulator(tmp_path / "modem") as sim:
        assert not control_path(sim.link).exists()
        async with ControlServer(sim) as control:
            assert control.path == control_path(sim.link) == tmp_path / "modem.ctl"
            assert (control.path.stat().st_mode & 0o777) == 0o600
            assert (await control_request(control.path, {"op": "state"}))["ok"] is True
        assert not control_path(sim.link).exists()
        with pytest.raises(ControlError, match="no simulator is running"):
            await control_request(control.path, {"op": "state"})


async def test_drop_urcs_through_the_control_socket_and_bad_counts(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        ctl = control_path(sim.link)
        assert await control_request(ctl, {"op": "fault", "kind": "drop_urcs:3"}) == {"ok": True}
        assert sim.state()["faults"] == ["drop_urcs:3"]
        bad = await control_request(ctl, {"op": "fault", "kind": "drop_urcs:many"})
        assert bad["ok"] is False and "bad count" in bad["error"]
        with pytest.raises(SimulatorError, match="bad count"):
            await sim.fault("drop_urcs:x")
        await sim.fault("drop_urcs:0")
        assert sim.state()["faults"] == []


async def test_raw_pdu_through_the_control_socket_round_trips_a_real_message(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim:
        ctl = control_path(sim.link)
        await sim.inject_sms(SENDER, "template")
        pdu = sim.state()["stored"][0]["pdu"]
        reply = await control_request(ctl, {"op": "pdu", "pdu": pdu})
        assert reply == {"ok": True, "index": 2}
        message = decode(sim.state()["stored"][1]["pdu"])
        assert isinstance(message, DeliverPdu) and message.text == "template"
        bad = await control_request(ctl, {"op": "pdu", "pdu": "zz"})
        assert bad["ok"] is False and "hexadecimal" in bad["error"]


async def test_recorded_answers_and_urcs_through_the_control_socket(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path) as sim, SerialPeer(sim.link) as peer:
        ctl = control_path(sim.link)
        await peer.command("ATE0")
        recorded = {"op": "answer", "command": "AT+CSQ", "raw": "+CSQ: 7,99\r\nOK\r\n"}
        assert await control_request(ctl, recorded) == {"ok": True}
        assert await peer.command("AT+CSQ") == ["+CSQ: 7,99", "OK"]
        assert await control_request(ctl, {"op": "urc", "lines": ["+CREG: 1"]}) == {"ok": True}
        assert await peer.next_line() == "+CREG: 1"
        for bad in ({"op": "urc", "lines": "+CREG: 1"}, {"op": "answer", "command": "AT+CSQ"}):
            assert (await control_request(ctl, bad))["ok"] is False
