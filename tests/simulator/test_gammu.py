"""libgammu's own AT driver (the ``gammu`` command, ``connection = at``) against the simulator.

docs/design.md §5: the simulator must be realistic enough that libgammu can identify it, read its SMS and send
through it. Every personality runs at once (gammu paces its init at ~0.4 s per command).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from raspisms_daemon.gsm.pdu import SubmitPdu, decode
from raspisms_daemon.simulator import Simulator
from tests.helpers.machine import needs
from tests.helpers.simulator import run_command, simulated_modem

GAMMU = shutil.which("gammu") or "/usr/bin/gammu"
ALL = ["generic", "huawei", "quectel", "sim800"]

pytestmark = [
    pytest.mark.timeout(90),
    needs(Path(GAMMU).exists(), "the gammu command", "gammu"),
]


async def gammu(sim: Simulator, *args: str, timeout: float = 40.0) -> str:  # noqa: ASYNC109
    rc_path = sim.link.with_name(f"{sim.link.name}.gammurc")
    log_path = sim.link.with_name(f"{sim.link.name}.gammu.log")
    # gammu's own debug log, quoted when a call fails: it shows every AT exchange.
    rc_path.write_text(
        f"[gammu]\ndevice = {sim.link}\nconnection = at\nlogformat = textall\nlogfile = {log_path}\n"
    )
    result = await run_command(GAMMU, "-c", str(rc_path), *args, timeout=timeout, merge_stderr=True)
    if result is None:
        raise AssertionError(f"gammu {' '.join(args)} timed out; its log ends:\n{_tail(log_path)}")
    returncode, text, _ = result
    assert returncode == 0, (
        f"gammu {' '.join(args)} failed ({returncode}):\n{text}\nits log ends:\n{_tail(log_path)}"
    )
    return text


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def for_each_personality(tmp_path: Path, scenario: Callable[[Simulator], Awaitable[None]]) -> None:
    async def one(personality: str) -> None:
        async with simulated_modem(tmp_path, personality, name=f"modem-{personality}") as sim:
            await scenario(sim)

    await asyncio.gather(*(one(p) for p in ALL))


async def test_gammu_identifies_each_personality(tmp_path: Path) -> None:
    async def scenario(sim: Simulator) -> None:
        out = await gammu(sim, "identify")
        assert sim.imei in out
        assert sim.imsi in out
        assert sim.profile.manufacturer.lower() in out.lower()
        assert sim.profile.revision.removeprefix("Revision:") in out

    await for_each_personality(tmp_path, scenario)


async def test_gammu_reads_single_multipart_and_emoji_sms_once_each(tmp_path: Path) -> None:
    long_text = "This message is long enough to need two parts. " * 4

    async def scenario(sim: Simulator) -> None:
        await sim.inject_sms("+33611111111", "hello from the simulator")
        await sim.inject_sms("+33622222222", long_text.strip())
        await sim.inject_sms("+33633333333", "smile 😀")
        out = await gammu(sim, "getallsms")
        assert out.count("hello from the simulator") == 1
        assert out.count("part 1 of 2") == 1 and out.count("part 2 of 2") == 1
        assert "This message is long enough" in out
        assert "smile 😀" in out
        assert '"+33622222222"' in out
        assert "4 SMS parts" in out

    await for_each_personality(tmp_path, scenario)


async def test_gammu_sends_and_our_decoder_reads_the_same_text(tmp_path: Path) -> None:
    async def scenario(sim: Simulator) -> None:
        out = await gammu(sim, "sendsms", "TEXT", "+33612345678", "-report", "-text", "hello via gammu")
        assert "OK, message reference=1" in out
        [sent] = sim.state()["sent"]
        submit = decode(sent["pdu"])
        assert isinstance(submit, SubmitPdu)
        assert (submit.number, submit.text) == ("+33612345678", "hello via gammu")
        assert submit.status_report_request
        assert (sent["number"], sent["text"], sent["mr"]) == ("+33612345678", "hello via gammu", 1)

    await for_each_personality(tmp_path, scenario)


async def test_gammu_networkinfo_reports_operator_and_registration(tmp_path: Path) -> None:
    # libgammu's GetNetworkInfo: AT+CREG=2, AT+CGREG=2, AT+CGATT?, AT+CREG?, AT+CGREG?, AT+COPS=3,2/3,0.
    async def scenario(sim: Simulator) -> None:
        out = await gammu(sim, "networkinfo")
        lines = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
        assert lines["Network state"] == "home network"
        assert lines["Packet network state"] == "home network"
        assert lines["Network"].startswith(f"{sim.imsi[:3]} {sim.imsi[3:5]}")
        assert lines["Network"].endswith("LAC 1A2B, CID C3D4")
        assert lines["Name in phone"] == f'"{sim.operator}"'
        assert lines["GPRS"] == "attached"

    await for_each_personality(tmp_path, scenario)
