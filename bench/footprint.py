"""Idle footprint: RSS and CPU seconds per minute of a process that has one simulated phone and nothing
to do, read from ``/proc/PID/stat`` (utime + stime, all threads) and ``/proc/PID/status`` (VmRSS).

Measured side by side over the same window (so they share the machine's conditions):

- ``raspisms-daemon run`` (one phone, one webhook; the simulator in its own process);
- ``gammu-smsd`` with ``LoopSleep = 1`` (its shortest sleep that is not a busy loop; everything else as
  in the latency run: ReceiveFrequency 0, no status/battery/signal/security polling).

Then, over a shorter window, gammu-smsd with ``LoopSleep = 0``, the setting its latency figure was
measured with, to show what that latency costs when idle. Each process receives one SMS first (start-up
and lazy imports done) and the window starts a second later.

    python -m bench.footprint [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_inbound import daemon_process
from bench.gammu_smsd import (
    API_KEY,
    Arrivals,
    gammu_smsd_process,
    simulator_process,
    wait_texts,
    write_smsdrc,
)
from raspisms_daemon.webhooks.receiver import VerifyingReceiver

__all__ = ["TARGET_CPU_S_PER_MIN", "TARGET_RSS_MB", "ProcSample", "idle_footprint", "measure", "read_proc"]

TARGET_RSS_MB = 40.0
TARGET_CPU_S_PER_MIN = 0.3
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float  # user + system, every thread of the process
    rss_kb: int
    at: float  # time.monotonic()


def read_proc(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after "(comm)", which may itself hold spaces: state is field 3, utime 14, stime 15.
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
            break
    return ProcSample(cpu_s=cpu, rss_kb=rss, at=time.monotonic())


async def measure(pids: dict[str, int], seconds: float) -> dict[str, dict[str, float]]:
    """Sample every process in ``pids`` once a second for ``seconds``; CPU over the window, RSS at the
    end and at its highest."""
    first = {name: read_proc(pid) for name, pid in pids.items()}
    peak = {name: s.rss_kb for name, s in first.items()}
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(1.0, left))
        for name, pid in pids.items():
            peak[name] = max(peak[name], read_proc(pid).rss_kb)
    out: dict[str, dict[str, float]] = {}
    for name, pid in pids.items():
        last = read_proc(pid)
        window = last.at - first[name].at
        out[name] = {
            "rss_mb": round(last.rss_kb / 1024, 2),
            "rss_peak_mb": round(max(peak[name], last.rss_kb) / 1024, 2),
            "cpu_s_per_min": round((last.cpu_s - first[name].cpu_s) / window * 60.0, 4),
            "window_s": round(window, 2),
        }
    return out


async def idle_footprint(seconds: float, busy_seconds: float | None = None) -> dict[str, Any]:
    """``{"ours": …, "gammu_smsd": …, "gammu_smsd_loopsleep0": …}``, each ``rss_mb``, ``rss_peak_mb``,
    ``cpu_s_per_min``, ``window_s``."""
    busy_seconds = min(seconds, 10.0) if busy_seconds is None else busy_seconds
    workdir = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    arrivals = Arrivals()
    receiver = VerifyingReceiver(API_KEY, on_delivery=arrivals)
    await receiver.start("127.0.0.1", 0)
    try:
        (workdir / "ours").mkdir()
        (workdir / "gammu").mkdir()
        (workdir / "gammu0").mkdir()
        async with (
            simulator_process(workdir / "ours") as sim_ours,
            simulator_process(workdir / "gammu") as sim_gammu,
            daemon_process(workdir / "ours", sim_ours.link, receiver.url) as daemon,
            gammu_smsd_process(
                write_smsdrc(workdir / "gammu", sim_gammu.link, receiver.url, loop_sleep=1)
            ) as gammu,
        ):
            await sim_ours.inject("warmup ours")
            await sim_gammu.inject("warmup gammu")
            await wait_texts(arrivals, ["warmup ours", "warmup gammu"], 60.0)
            await asyncio.sleep(1.0)
            result: dict[str, Any] = await measure({"ours": daemon.pid, "gammu_smsd": gammu.pid}, seconds)
        async with (
            simulator_process(workdir / "gammu0") as sim,
            gammu_smsd_process(
                write_smsdrc(workdir / "gammu0", sim.link, receiver.url, loop_sleep=0)
            ) as busy,
        ):
            await sim.inject("warmup gammu0")
            await wait_texts(arrivals, ["warmup gammu0"], 60.0)
            await asyncio.sleep(1.0)
            result.update(await measure({"gammu_smsd_loopsleep0": busy.pid}, busy_seconds))
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(idle_footprint(args.seconds)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
