"""The inbound latency benchmark runs in its CI (smoke) mode and reports sane numbers."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from tests.helpers.daemon_process import REPO


@pytest.mark.timeout(120)
async def test_bench_inbound_smoke_mode_measures_every_sms() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_inbound",
        "--smoke",
        "--json",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 100)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["sms"] == 20 and result["rejected"] == 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"] < 10_000
