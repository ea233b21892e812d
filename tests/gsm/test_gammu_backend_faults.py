"""The gammu backend when the modem misbehaves: libgammu blocked on a stalled modem, an unplugged one.

Bounded chaos: each test waits for the Disconnected/Reconnected pair with a timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from raspisms_daemon.errors import ModemError, ModemGone, ModemTimeout
from raspisms_daemon.gsm.gammu_backend import GammuBackend, GammuState
from raspisms_daemon.gsm.modem import Disconnected, Reconnected, SmsReceived
from raspisms_daemon.gsm.pdu import encode_submit
from raspisms_daemon.gsm.policy import ReconnectPolicy, RefusedPins
from raspisms_daemon.simulator import Simulator
from tests.gsm.test_gammu_backend_at import phone_for
from tests.helpers.machine import import_or_skip
from tests.helpers.modem_events import ModemEvents
from tests.helpers.simulator import simulated_modem

gammu = import_or_skip("gammu", "python-gammu", "python3-gammu")

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    async with simulated_modem(tmp_path) as s:
        yield s


async def test_event_loop_stays_responsive_while_libgammu_blocks_then_the_phone_comes_back(
    sim: Simulator,
) -> None:
    # A long poll interval: the only libgammu call that can hang below is the one the test makes.
    phone = phone_for(sim, 8)._replace(poll_interval=30.0)
    b = GammuBackend(phone, call_timeout=2.0, reconnect=ReconnectPolicy((0.2,)))
    await b.start()
    try:
        events = ModemEvents(b)
        lateness: list[float] = []

        async def ticker() -> None:
            while True:
                due = time.monotonic() + 0.01
                await asyncio.sleep(0.01)
                lateness.append(time.monotonic() - due)

        await sim.fault("stall")
        ticks = asyncio.create_task(ticker())
        started = time.monotonic()
        try:
            with pytest.raises(ModemTimeout):
                await b.identity()  # libgammu waits for a modem that never answers
        finally:
            blocked_for = time.monotonic() - started
            ticks.cancel()
        assert blocked_for >= 1.9  # the call really hung until our 2 s timeout
        assert len(lateness) > 100  # and the ticker kept running meanwhile
        assert max(lateness) < 0.05, f"event loop blocked for {max(lateness) * 1000:.0f} ms"

        (lost,) = await events.wait_for(Disconnected, timeout=10)
        assert "no answer" in lost.reason
        await sim.fault("unstall")
        await events.wait_for(Reconnected, timeout=40)
        assert b.state is GammuState.CONNECTED
        (index,) = await sim.inject_sms("+33611111111", "after the stall")
        await b.sweep()
        received = await events.wait_for(SmsReceived, timeout=10)
        assert received[-1].index == index and received[-1].message.text == "after the stall"
    finally:
        await b.stop()


async def test_an_unplugged_modem_is_reported_and_picked_up_again(sim: Simulator) -> None:
    # After the first failed attempt the backend would wait 60 s: only attach() makes it try sooner.
    b = GammuBackend(phone_for(sim, 8), call_timeout=5.0, reconnect=ReconnectPolicy((0.2, 60.0)))
    await b.start()
    try:
        events = ModemEvents(b)
        (index,) = await sim.inject_sms("+33611111111", "kept on the SIM")
        await events.wait_for(SmsReceived, timeout=10)  # and never deleted (no commit happened)
        await sim.fault("unplug")
        await events.wait_for(Disconnected, timeout=15)
        with pytest.raises(ModemGone):
            await b.send(encode_submit("+33600000000", "not now"))

        await asyncio.sleep(1.0)  # the first attempt (after 0.2 s) finds no device
        assert b.state is GammuState.DISCONNECTED

        await sim.fault("replug")
        mark = events.mark()
        await b.attach()  # what the supervisor does when udev reports the modem back
        await events.wait_for(Reconnected, timeout=20, since=mark)
        refs = await b.send(encode_submit("+33600000000", "now"))
        assert refs == [sim.state()["sent"][-1]["mr"]]
        # What is still stored is shown again after a reconnect: its take-in gets another chance.
        (again,) = await events.wait_for(SmsReceived, timeout=10, since=mark)
        assert again.index == index and again.message.text == "kept on the SIM"
    finally:
        await b.stop()


async def test_the_configured_pin_unlocks_the_sim(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="4321") as locked:
        b = GammuBackend(phone_for(locked, 9)._replace(pin="4321"), call_timeout=5.0)
        await b.start()
        try:
            assert (await b.identity()).imsi == "208150000000001"
        finally:
            await b.stop()


async def test_a_sim_asking_for_a_pin_nobody_configured_fails_the_start_clearly(tmp_path: Path) -> None:
    async with simulated_modem(tmp_path, pin="4321") as locked:
        b = GammuBackend(phone_for(locked, 9), call_timeout=5.0)
        with pytest.raises(ModemError, match="PIN"):
            await b.start()
        assert b.state is GammuState.STOPPED


async def test_a_wrong_pin_fails_the_start_and_is_not_entered_again(tmp_path: Path) -> None:
    pins = RefusedPins()  # what the daemon hands to every backend it builds
    async with simulated_modem(tmp_path, pin="4321") as locked:
        b = GammuBackend(phone_for(locked, 9)._replace(pin="0000"), call_timeout=5.0, refused_pins=pins)
        with pytest.raises(ModemError, match="refused the configured PIN"):
            await b.start()
        assert locked.state()["settings"]["pin_attempts"] == 2
        # The phone supervisor builds a fresh backend after a failed start: it must not spend another
        # of the SIM's three tries (the third would lock the SIM).
        again = GammuBackend(phone_for(locked, 9)._replace(pin="0000"), call_timeout=5.0, refused_pins=pins)
        with pytest.raises(ModemError, match="refused the configured PIN"):
            await again.start()
        assert locked.state()["settings"]["pin_attempts"] == 2
        assert locked.state()["settings"]["sim"] == "SIM PIN"


async def test_a_reconnect_to_a_sim_that_wants_a_pin_nobody_configured_gives_up(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = GammuBackend(phone_for(sim, 8), call_timeout=5.0, reconnect=ReconnectPolicy((0.2,)))
    await b.start()
    try:
        events = ModemEvents(b)
        await sim.fault("unplug")
        await events.wait_for(Disconnected, timeout=15)

        # python-gammu ships no hints, so StateMachine is Any to mypy; a subclass is how to override one
        # method of this C type.
        state_machine: Any = gammu.StateMachine

        class LockedAgain(state_machine):  # type: ignore[misc]
            def GetSecurityStatus(self) -> str:
                return "PIN"  # the SIM lost power with the modem: it wants its PIN again

        monkeypatch.setattr(gammu, "StateMachine", LockedAgain)
        await sim.fault("replug")
        await b.attach()
        (_, gave_up) = await events.wait_for(Disconnected, count=2, timeout=30)
        assert "no pin is configured" in gave_up.reason
        assert b.state is GammuState.FAILED
        assert not events.of(Reconnected)
        with pytest.raises(ModemGone):
            await b.identity()
    finally:
        await b.stop()
    # mypy keeps the narrowing to FAILED from above across stop(), which changes the state.
    assert b.state is GammuState.STOPPED  # type: ignore[comparison-overlap]
