"""The Pi profile's CPU quota: the share of one of this machine's cores that runs Python as fast as a
Raspberry Pi 3 B+ does.

The reference is a published figure for a pure-Python workload: Alex Dedyura's "Python CPU Benchmark"
(github.com/alexdedyura/cpu-benchmark@d595838, ``benchmark_core.py`` ``_workload``: three loops of float
and big-integer arithmetic, 10 000 times; the figure is the seconds this takes, averaged over 10
attempts). A report in its GitHub tracker (github.com/alexdedyura/cpu-benchmark/issues/20, 2024-04-20)
gives a Raspberry Pi 3 B+ (Raspberry Pi OS, kernel 6.6.20+rpt-rpi-v8, Python 3.11.2) at 245 s; the
maintainer answered that this is what its BCM2837B0 does. The same README lists a Raspberry Pi 4 at
79.2 s. A Pi Zero 2 W has the Pi 3's Cortex-A53 cores at 1.0 GHz instead of 1.4 GHz, so it would be about 1.4
times slower again: the Pi 3 B+ is the kinder of the two boards the profile stands for.

:func:`calibrate` times the same three loops here in CPU seconds (a few hundred iterations, the fastest
of several runs, so that other work on the machine counts as little as possible), scaled to 10 000
iterations: ``quota = CPU seconds here ÷ 245 s``. It then runs the workload inside a cgroup with that
quota and reports the wall-clock time it takes there, scaled the same way, which should come out near
245 s (more when the machine is busy: the quota is a ceiling, not a guarantee).

    python -m bench.calibrate
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench.profile import Quota, cpu_cgroup

__all__ = ["REFERENCE", "REFERENCE_SECONDS", "calibrate", "workload_seconds"]

REFERENCE = "Raspberry Pi 3 B+, Python 3.11.2: 245 s (github.com/alexdedyura/cpu-benchmark/issues/20)"
REFERENCE_SECONDS = 245.0
ITERATIONS = 10_000  # the published figure's


def _workload() -> None:
    # The benchmark's loop body, as published (its results are discarded there too).
    for x in range(1, 1000):
        3.141592 * 2**x
    for x in range(1, 10000):
        float(x) / 3.141592
    for x in range(1, 10000):
        3.141592 / x


def workload_seconds(iterations: int, *, cpu: bool = False) -> float:
    """Seconds for ``iterations`` of the workload, scaled to the published 10 000: wall-clock seconds,
    or (``cpu``) the CPU time the process got, which other work on the machine does not stretch."""
    clock = time.process_time if cpu else time.perf_counter
    start = clock()
    for _ in range(iterations):
        _workload()
    return (clock() - start) * ITERATIONS / iterations


def _in_cgroup(procs: str, iterations: int) -> float:
    """Run the workload in a child process that joins the cgroup first; its scaled seconds."""
    code = (
        "import sys; open(sys.argv[1], 'w').write(str(__import__('os').getpid()));"
        "from bench.calibrate import workload_seconds; print(workload_seconds(int(sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, procs, str(iterations)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def calibrate(iterations: int = 200, runs: int = 3, check_iterations: int = 60) -> dict[str, Any]:
    """``{"quota": fraction of a core, "here_s": …, "under_quota_s": …, "reference": …}``."""
    here = min(workload_seconds(iterations, cpu=True) for _ in range(runs))
    fraction = here / REFERENCE_SECONDS
    quota = Quota(fraction, f"{REFERENCE}; here {here:.1f} s")
    under: float | None = None
    if check_iterations:
        with cpu_cgroup(quota) as group:
            assert group is not None
            under = _in_cgroup(str(group / "cgroup.procs"), check_iterations)
    return {
        "quota": fraction,
        "here_s": round(here, 2),
        "under_quota_s": None if under is None else round(under, 1),
        "reference_s": REFERENCE_SECONDS,
        "reference": REFERENCE,
        "iterations": iterations,
        "runs": runs,
    }


def main() -> int:
    print(json.dumps(calibrate(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
