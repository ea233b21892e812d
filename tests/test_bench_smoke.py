"""The benchmark harness works: ``bench.run --smoke`` produces every figure as a positive number (the
targets are for full runs on the reference machine, not for CI), and its pieces read what they claim."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_inbound import percentile
from bench.broker import MOSQUITTO
from bench.durability import count_syncs
from bench.footprint import read_proc
from bench.report import Row, render_table, write_results

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(230)
@pytest.mark.skipif(
    shutil.which("gammu-smsd") is None,
    reason="gammu-smsd (apt: gammu-smsd) is not installed: every benchmark runs beside it",
)
@pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto (apt: mosquitto) is not installed: the MQTT figures need it"
)
def test_smoke_run_produces_every_figure_as_a_positive_number(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=210,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["errors"] == {}
    assert results["mode"] == "smoke"
    f = results["figures"]
    assert set(f) == {"inbound", "gammu", "throughput", "drain", "footprint", "durability", "scale", "mqtt"}
    positive = {
        "inbound p50": f["inbound"]["p50_ms"],
        "inbound p99": f["inbound"]["p99_ms"],
        "gammu p50": f["gammu"]["p50_ms"],
        "gammu p99": f["gammu"]["p99_ms"],
        "throughput": f["throughput"]["per_s"],
        "drain": f["drain"]["seconds"],
        "rss ours": f["footprint"]["ours"]["rss_mb"],
        "rss gammu": f["footprint"]["gammu_smsd"]["rss_mb"],
        # a busy-looping gammu-smsd burns CPU even in two seconds: proves the CPU reading works
        "cpu gammu loopsleep 0": f["footprint"]["gammu_smsd_loopsleep0"]["cpu_s_per_min"],
        "fsyncs per sms": f["durability"]["per_sms"],
        "scale ratio": f["scale"]["ratio"],
        "mqtt fleet, 1 gateway": f["mqtt"]["fleet"]["one_per_s"],
        "mqtt fleet, 3 gateways": f["mqtt"]["fleet"]["three_per_s"],
        "mqtt event latency p50": f["mqtt"]["latency"]["mqtt_p50_ms"],
        "webhook latency p50, same run": f["mqtt"]["latency"]["webhook_p50_ms"],
    }
    for name, value in positive.items():
        assert isinstance(value, int | float) and value > 0, f"{name} = {value!r}"
    # Idle CPU over a few seconds may round to 0 clock ticks; it is never negative.
    assert f["footprint"]["ours"]["cpu_s_per_min"] >= 0
    assert f["inbound"]["rejected"] == 0 and f["gammu"]["rejected"] == 0
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["memory_mb"] > 0
    assert machine["python"] and machine["kernel"] and machine["gammu_smsd"]
    assert "| inbound latency p99 (ms) |" in proc.stdout


def test_count_syncs_counts_each_call_once_even_when_interrupted_by_another_thread(tmp_path: Path) -> None:
    log = tmp_path / "strace.log"
    log.write_text(
        "101   fdatasync(7)                      = 0\n"
        "101   fsync(8 <unfinished ...>\n"
        "102   fdatasync(7 <unfinished ...>\n"
        "101   <... fsync resumed>)              = 0\n"
        "102   <... fdatasync resumed>)          = 0\n"
        "103   16:13:33.419532 fdatasync(7</tmp/x.sqlite3-wal>) = 0\n"
        "101   +++ exited with 0 +++\n"
    )
    assert count_syncs(log) == 4
    assert count_syncs(tmp_path / "missing.log") == 0


def test_read_proc_sees_this_process_memory_and_cpu() -> None:
    sum(i * i for i in range(200_000))  # some CPU, so the tick counter has moved
    sample = read_proc(os.getpid())
    assert sample.rss_kb > 1024
    assert sample.cpu_s > 0


def test_percentile_is_nearest_rank_on_sorted_values() -> None:
    values = [float(v) for v in range(101)]  # 0 … 100: the p-th percentile is p
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0


def test_table_shows_the_ratio_to_gammu_smsd_and_unmet_targets(tmp_path: Path) -> None:
    rows = [
        Row("inbound latency p50", "ms", 4.0, 40.0, "lower than gammu-smsd", True),
        Row("idle RSS", "MB", 50.0, 10.0, "≤ 45 MB", False, "why"),
    ]
    table = render_table(rows)
    assert "| inbound latency p50 (ms) | 4.00 | 40.0 | 0.10× | lower than gammu-smsd | yes |" in table
    assert "| idle RSS (MB) | 50.0 | 10.0 | 5.00× | ≤ 45 MB | **no** |" in table
    assert "- idle RSS: why" in table
    written = write_results(
        tmp_path / "r.json",
        mode="smoke",
        command="python -m bench.run --smoke",
        figures={"x": {"nan": float("nan")}},
        rows=rows,
        errors={},
        elapsed_s=1.0,
    )
    on_disk = json.loads((tmp_path / "r.json").read_text())
    assert on_disk == written
    assert on_disk["figures"]["x"]["nan"] is None
    assert on_disk["table"][0]["ratio"] == pytest.approx(0.1)
