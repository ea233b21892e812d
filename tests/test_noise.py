"""Rate-limited modem noise: the pure limiter (table of hits and verdicts), and a modem spewing garbage
through the real daemon: a few lines in the log, every line counted in /metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import tty
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from raspisms_daemon.gsm.at_transport import AtTransport
from raspisms_daemon.noise import MODEM_GARBAGE, LineLimiter, Verdict
from tests.helpers.daemon_process import running_daemon


def test_the_first_lines_are_logged_then_one_summary_per_interval() -> None:
    limiter = LineLimiter(burst=3, interval=60.0)
    hits = [(0.0, Verdict(True)), (0.1, Verdict(True)), (0.2, Verdict(True))]  # the burst
    hits += [(1.0, Verdict(False)), (30.0, Verdict(False)), (59.0, Verdict(False))]  # quiet, counted
    hits += [(60.2, Verdict(True, suppressed=3))]  # a minute after the burst: one line, with the count
    hits += [(61.0, Verdict(False)), (120.0, Verdict(False)), (120.3, Verdict(True, suppressed=2))]
    assert [limiter.hit(now) for now, _ in hits] == [verdict for _, verdict in hits]


def test_a_quiet_line_after_a_long_pause_is_logged_with_nothing_suppressed() -> None:
    limiter = LineLimiter(burst=1, interval=10.0)
    assert limiter.hit(0.0) == Verdict(True)
    assert limiter.hit(500.0) == Verdict(True, suppressed=0)


def _samples(text: str, name: str) -> dict[str, float]:
    return {
        s.labels.get("phone", ""): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_a_modem_spewing_garbage_fills_the_counter_not_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real transport on a real pty; the test writes at the modem's end of it."""
    caplog.set_level(logging.WARNING, logger="raspisms_daemon.gsm.at_transport")
    master, slave = os.openpty()
    tty.setraw(slave)
    before = MODEM_GARBAGE[41]
    transport = await AtTransport.open(os.ttyname(slave), 115200, on_urc=lambda urc: None, phone_id=41)
    try:
        for i in range(200):
            os.write(master, b"\xff\x80 noise " + str(i).encode() + b"\r\n")
        async with asyncio.timeout(10):
            while MODEM_GARBAGE[41] - before < 200:  # noqa: ASYNC110 - the transport reads on its own
                await asyncio.sleep(0.01)
        command = asyncio.create_task(transport.command("AT", 5.0))  # the port works on
        assert b"AT" in await asyncio.to_thread(os.read, master, 64)
        os.write(master, b"\r\nOK\r\n")
        response = await command
    finally:
        transport.close()
        os.close(master)
        os.close(slave)
    assert response.result.ok
    logged = [r for r in caplog.records if "garbage from modem" in r.getMessage()]
    assert MODEM_GARBAGE[41] - before == 200  # every garbage line counted …
    assert len(logged) == LineLimiter().burst  # … the first few logged; a summary comes a minute later


async def test_metrics_show_each_phones_garbage_count(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, api=True) as env, aiohttp.ClientSession() as http:
        MODEM_GARBAGE[1] += 3  # what the phone's transport counts (see the test above)
        async with http.get(f"{env.daemon.api_url}/metrics") as resp:
            counted = _samples(await resp.text(), "raspisms_modem_garbage_lines_total")
    assert counted["1"] == MODEM_GARBAGE[1] >= 3
