"""The dispatch bench in --smoke mode runs end to end (CI); the figures themselves are not timed here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_dispatch_smoke_delivers_everything_and_reports_both_figures() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_dispatch", "--smoke", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "throughput:" in proc.stdout and "drain:" in proc.stdout
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["events"] == 300
    assert figures["deliveries_per_s"] > 0 and 0 < figures["drain_s"] < 60
    # Every event failed its first attempt while the receiver was down, and bench_drain returns that count.
    assert figures["drain_failed_attempts"] >= 300
