"""Scale: webhook dispatch throughput with 1 000 000 delivered rows in the database vs an empty one.

Uses the dispatcher bench (:func:`bench.bench_dispatch.bench_throughput`): a real SQLite file created
through the daemon's migrations, N events queued, the real dispatcher, a verifying receiver in its own
process. The history (delivered outbox rows with one attempt each, delivered "now" so that retention
pruning leaves them) is inserted by ``bench_dispatch.add_history`` with a set-based ``INSERT … SELECT``
in 50 000-row transactions, which is faster than an ``executemany``. Runs alternate empty / history so
that a slow moment of the machine does not land on one side only; the figure is the ratio of medians.
Target ≥ 90 %.

    python -m bench.scale [--events 10000] [--history 1000000] [--runs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import bench_dispatch

__all__ = ["TARGET_RATIO", "dispatch_rate", "scale"]

TARGET_RATIO = 0.90


async def dispatch_rate(n: int, history: int = 0) -> float:
    """Deliveries per second for ``n`` queued events, with ``history`` old delivered rows present."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        return await bench_dispatch.bench_throughput(workdir, n, history)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def scale(n: int, history: int, runs: int, baseline: list[float] | None = None) -> dict[str, Any]:
    """``ratio`` = median rate with ``history`` rows ÷ median rate empty. ``baseline``: empty-database
    rates already measured (the throughput figure), reused instead of measured again."""
    empty = list(baseline or [])
    full: list[float] = []
    for _ in range(runs):
        if baseline is None:
            empty.append(await dispatch_rate(n))
        full.append(await dispatch_rate(n, history))
    ratio = statistics.median(full) / statistics.median(empty)
    return {
        "events": n,
        "history_rows": history,
        "empty_per_s": [round(r, 1) for r in empty],
        "history_per_s": [round(r, 1) for r in full],
        "ratio": ratio,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(scale(args.events, args.history, args.runs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
