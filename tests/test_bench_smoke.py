"""The benchmark harness works: ``bench.run --smoke`` produces every figure as a positive number (the
targets are for full runs on the reference machine, not for CI), and its pieces read what they claim."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.bench_inbound import percentile
from bench.broker import MOSQUITTO
from bench.durability import count_syncs
from bench.footprint import read_proc
from bench.profile import CGROUP_CPU, NORMAL, SD, Applied, Quota, cpu_cgroup
from bench.report import Row, render_side_by_side, render_table, write_results
from bench.run import FIGURES
from tests.helpers.machine import needs

ROOT = Path(__file__).resolve().parent.parent
CGROUP_OK = os.geteuid() == 0 and (CGROUP_CPU / "cpu.cfs_quota_us").exists()


@pytest.mark.timeout(480)
@needs(shutil.which("gammu-smsd"), "gammu-smsd (every benchmark runs beside it)", "gammu-smsd")
@needs(MOSQUITTO, "mosquitto (the MQTT figures)", "mosquitto")
@pytest.mark.skipif(not CGROUP_OK, reason="the start figure needs root and the cgroup v1 cpu controller")
def test_smoke_run_produces_every_figure_as_a_positive_number(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=450,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["errors"] == {}
    assert results["mode"] == "smoke"
    f = results["figures"]
    assert set(f) == set(FIGURES)
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
        "fsyncs per sms in a burst": f["durability"]["burst_per_sms"],
        "scale ratio": f["scale"]["ratio"],
        **{f"send scale {k} p50": f["send_scale"][k]["p50_ms"] for k in ("empty", "history", "campaign")},
        "send scale without the history indexes p50": f["send_scale"]["no_indexes"]["p50_ms"],
        "mqtt fleet, 1 gateway": f["mqtt"]["fleet"]["one_per_s"],
        "mqtt fleet, 3 gateways": f["mqtt"]["fleet"]["three_per_s"],
        "mqtt event latency p50": f["mqtt"]["latency"]["mqtt_p50_ms"],
        "webhook latency p50, same run": f["mqtt"]["latency"]["webhook_p50_ms"],
        "burst": f["burst"]["per_s"],
        "gammu burst": f["gammu_burst"]["per_s"],
        "ready": f["startup"]["ready"]["median_s"],
        **{f"command {c}": t["median_s"] for c, t in f["startup"]["commands"].items()},
        "one modem": f["multimodem"]["one"]["per_s"],
        "modems ratio": f["multimodem"]["ratio"],
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
    assert set(f["startup"]["commands"]) == {"--version", "check-config", "send", "phones"}
    assert f["startup"]["quota"] == 0.15 and results["machine"]["profile"]["name"] == "normal"


@pytest.mark.timeout(330)
@pytest.mark.skipif(not CGROUP_OK, reason="the Pi profile needs root and the cgroup v1 cpu controller")
@needs(shutil.which("strace"), "strace", "strace")
def test_the_pi_profile_slows_fsync_and_the_cpu_of_the_measured_process(tmp_path: Path) -> None:
    out = tmp_path / "results-pi.json"
    only = ["inbound", "inbound_sd", "durability", "startup"]
    with subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--pi", "--smoke", "--cpu-quota", "50", "--only", *only,
         "--output", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["errors"] == {} and set(results["figures"]) == set(only)
    profile = results["machine"]["profile"]
    assert (profile["name"], profile["quota"]) == ("pi", 0.5)
    f = results["figures"]
    # Every SMS waits for at least one durable commit, and each commit's fdatasync now takes 50 ms.
    assert f["inbound"]["p50_ms"] >= 50 and f["inbound_sd"]["p50_ms"] >= 50
    assert f["durability"]["per_sms"] >= 1
    assert f["startup"]["quota"] == 0.5 and f["startup"]["ready"]["median_s"] > 0
    # The run's cgroup (named after its process: another run on the machine may have its own) is gone.
    assert not (CGROUP_CPU / f"raspisms-bench-{proc.pid}").exists()


def test_a_profile_runs_the_command_under_strace_outside_the_cgroup_it_joins(tmp_path: Path) -> None:
    argv = Applied(SD, tmp_path / "group").prefix(tmp_path / "fsync.log")
    strace, enter = argv[: argv.index("sh")], argv[argv.index("sh") :]
    assert strace[:3] == ["strace", "-f", "--seccomp-bpf"]
    assert "inject=fsync,fdatasync:delay_enter=50000" in strace
    assert strace[-2:] == ["-o", str(tmp_path / "fsync.log")]
    # The shell strace starts joins the group, then becomes the command: strace stays outside it.
    assert enter[:2] == ["sh", "-c"] and enter[-1] == str(tmp_path / "group" / "cgroup.procs")
    assert Applied(NORMAL).prefix() == [] and not Applied(NORMAL).traced()


@pytest.mark.skipif(not CGROUP_OK, reason="needs root and the cgroup v1 cpu controller")
def test_a_command_in_the_quota_cgroup_gets_that_share_of_a_core() -> None:
    with cpu_cgroup(Quota(0.2, "test")) as group:
        assert group is not None
        assert (group / "cpu.cfs_quota_us").read_text().strip() == "20000"
        assert (group / "cpu.cfs_period_us").read_text().strip() == "100000"
        code = "import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
        start = time.monotonic()
        subprocess.run([*Applied(NORMAL, group).prefix(), sys.executable, "-c", code], check=True, timeout=60)
        # 0.3 s of CPU at 20 % of a core: about 1.5 s of wall time (never less than the CPU time / 0.2).
        assert time.monotonic() - start >= 1.2
    assert not group.exists()


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


def test_the_readme_table_puts_both_profiles_side_by_side_and_judges_each_target_where_stated() -> None:
    normal = [
        asdict(Row("inbound latency p99", "ms", 7.8, 27.0, "≤ 50 ms", True, "1000 SMS")),
        asdict(Row("idle RSS", "MB", 43.0, 10.4, "≤ 40 MB", False)),
    ]
    pi = [
        asdict(Row("inbound latency p99", "ms", 120.0, 600.0, "", None, "1000 SMS")),
        asdict(Row("a burst, fsync +50 ms only", "SMS/s", 250.0, None, "≥ 100/s", True, "the CPU as it is")),
    ]
    table = render_side_by_side(normal, pi).splitlines()
    header = "| figure | ours | gammu-smsd | ours, Pi profile | gammu-smsd, Pi profile | target | met |"
    assert table[0] == header
    assert "| inbound latency p99 (ms) | 7.80 | 27.0 | 120 | 600 | ≤ 50 ms | yes |" in table
    assert "| idle RSS (MB) | 43.0 | 10.4 | — | — | ≤ 40 MB | **no** |" in table
    assert "| a burst, fsync +50 ms only (SMS/s) | — | — | 250 | — | ≥ 100/s | yes |" in table
    assert table.count("- inbound latency p99: 1000 SMS") == 1  # the same note once
    assert "- a burst, fsync +50 ms only, Pi profile: the CPU as it is" in table
