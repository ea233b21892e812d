"""``raspisms-daemon simulate …``: ``serve`` as a real subprocess, the other actions against its socket."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from raspisms_daemon.gsm.pdu import DeliverPdu, decode, encode_submit
from tests.helpers.simulator import SerialPeer, run_command

pytestmark = pytest.mark.timeout(60)


async def cli(*args: str, timeout: float = 20.0) -> tuple[int, str, str]:  # noqa: ASYNC109
    result = await run_command(sys.executable, "-m", "raspisms_daemon", "simulate", *args, timeout=timeout)
    if result is None:
        raise TimeoutError(f"simulate {' '.join(args)} did not finish within {timeout:g} s")
    return result


async def wait_for_path(path: Path, proc: asyncio.subprocess.Process, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not path.exists():  # noqa: ASYNC240 (a stat of a tmp file)
            if proc.returncode is not None:
                raise AssertionError(f"simulate serve exited with {proc.returncode}")
            await asyncio.sleep(0.05)


async def test_serve_then_sms_state_fault_through_the_control_socket(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "raspisms_daemon", "simulate", "serve", "--link", str(link),
        "--personality", "sim800", "-v",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_for_path(Path(f"{link}.ctl"), serve)
        assert link.is_symlink() and Path(link.resolve()).exists()  # noqa: ASYNC240

        rc, out, _ = await cli(
            "sms", "--link", str(link), "--from", "+33611111111", "--text", "hi from the CLI"
        )
        assert rc == 0 and json.loads(out) == [1]

        async with SerialPeer(link) as peer:
            lines = await peer.command("AT+CMGR=1")
            message = decode(lines[2])  # echo, +CMGR header, PDU
            assert isinstance(message, DeliverPdu) and message.text == "hi from the CLI"

        rc, _, _ = await cli("reports", "--link", str(link), "failed", "--delay", "2")
        assert rc == 0
        rc, _, _ = await cli("fault", "--link", str(link), "error:3")
        assert rc == 0
        rc, _, _ = await cli("fault", "--link", str(link), "drop_urcs:2")
        assert rc == 0
        rc, out, _ = await cli("pdu", "--link", str(link), "07913316020000F0040B9133")
        assert rc == 0 and json.loads(out) == 2
        rc, out, _ = await cli("state", "--link", str(link))
        state = json.loads(out)
        assert rc == 0
        assert state["personality"] == "sim800"
        # No client listened for the raw PDU's +CMTI: a lost URC does not use up the fault.
        assert state["faults"] == ["error:3", "drop_urcs:2"]
        assert state["reports"] == {"mode": "failed", "delay": 2.0}
        assert [(s["read"], s["pdu"]) for s in state["stored"]][1:] == [(False, "07913316020000F0040B9133")]
        assert [s["read"] for s in state["stored"]] == [True, False]
        rc, _, err = await cli("pdu", "--link", str(link), "zz")
        assert rc == 1 and "hexadecimal" in err

        rc, _, err = await cli("fault", "--link", str(link), "meltdown")
        assert rc == 1 and "unknown fault" in err

        rc, _, _ = await cli("call", "--link", str(link), "--from", "+33622222222", "--ring-seconds", "5")
        assert rc == 0
        rc, out, _ = await cli("state", "--link", str(link))
        assert json.loads(out)["call"] == {"number": "+33622222222", "state": "ringing"}
    finally:
        if serve.returncode is None:
            serve.send_signal(signal.SIGTERM)
        _, serve_err = await asyncio.wait_for(serve.communicate(), 15)
    assert serve.returncode == 0, serve_err.decode()
    assert "sms from +33611111111 stored at [1]" in serve_err.decode()  # it logs what happens
    assert not Path(f"{link}.ctl").exists() and not link.is_symlink()  # noqa: ASYNC240


async def test_actions_say_clearly_when_no_simulator_runs(tmp_path: Path) -> None:
    rc, out, err = await cli("state", "--link", str(tmp_path / "nothing"))
    assert rc == 1 and out == ""
    assert "no simulator is running" in err and "nothing.ctl" in err


@pytest.mark.parametrize("value", ["4-2", "-1", "soon", "2-"])
async def test_serve_refuses_a_send_delay_that_is_not_seconds_or_a_range(tmp_path: Path, value: str) -> None:
    rc, _, err = await cli("serve", "--link", str(tmp_path / "modem"), "--send-delay", value)
    assert rc == 2 and "--send-delay" in err and not (tmp_path / "modem").exists()


async def test_serve_with_a_send_delay_answers_cmgs_after_it(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "raspisms_daemon", "simulate", "serve", "--link", str(link),
        "--send-delay", "0.3-0.4",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_for_path(Path(f"{link}.ctl"), serve)
        async with SerialPeer(link) as peer:
            assert (await peer.command("AT+CMGF=0"))[-1] == "OK"
            (part,) = encode_submit("+33622222222", "slow network")
            start = time.monotonic()
            lines = await peer.send_pdu(part.tpdu_length, part.hex)
            assert lines[-1] == "OK" and time.monotonic() - start >= 0.3
    finally:
        serve.send_signal(signal.SIGTERM)
        await asyncio.wait_for(serve.wait(), 15)
