"""Durability cost: fsync/fdatasync calls per received SMS, counted by strace on the daemon process.

The daemon (``raspisms-daemon run``, one simulated phone in another process, a verifying receiver in this
one) runs under ``strace -f -e trace=fsync,fdatasync -o FILE``. The calls made before it is ready
(migrations, start-up) are left out: the count is taken when it is ready and again after the last of N
SMS has been verified at the receiver and the daemon had a moment to record the delivery. SMS arrive
one at a time with a short gap, as on a real modem. Everything in between is charged to the SMS: the
receive transaction, the dispatcher's claim and delivery bookkeeping, and any WAL checkpoint.
Target ≤ 2 per SMS.

    python -m bench.durability [--sms 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_inbound import daemon_process
from bench.gammu_smsd import API_KEY, Arrivals, inject_all, simulator_process, wait_texts
from bench.profile import AS_IS, Applied
from raspisms_daemon.webhooks.receiver import VerifyingReceiver

__all__ = ["TARGET_PER_SMS", "count_syncs", "fsyncs_per_sms"]

TARGET_PER_SMS = 2.0
# A completed call line, or the first half of one interrupted by another thread ("<unfinished ...>");
# its "<... fsync resumed>" second half is not counted again.
_SYNC_CALL = re.compile(r"^\d+\s+(?:\d+:\d+:\d+(?:\.\d+)?\s+)?(fsync|fdatasync)\(")


def count_syncs(strace_log: Path) -> int:
    """fsync + fdatasync calls in an ``strace -f -o`` log."""
    try:
        text = strace_log.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    return sum(1 for line in text.splitlines() if _SYNC_CALL.match(line))


async def fsyncs_per_sms(
    n: int, *, gap: float = 0.1, settle: float = 1.0, burst: int = 0, applied: Applied = AS_IS
) -> dict[str, Any]:
    """fsync + fdatasync calls per SMS: ``n`` SMS one at a time, then (``burst`` > 0) ``burst`` SMS
    arriving together. ``gap``: pause after each verified webhook, so that each SMS is on its own as on
    a real modem (back to back, the delivery bookkeeping of one SMS shares a commit with the next
    one's)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-durability-"))
    log = workdir / "strace.log"
    arrivals = Arrivals()
    receiver = VerifyingReceiver(API_KEY, on_delivery=arrivals)
    await receiver.start("127.0.0.1", 0)
    burst_calls = 0
    try:
        async with (
            simulator_process(workdir, capacity=max(30, burst + 10)) as sim,
            daemon_process(workdir, sim.link, receiver.url, applied=applied, strace_log=log),
        ):
            await sim.inject("warmup")
            await wait_texts(arrivals, ["warmup"], 60.0)
            await asyncio.sleep(settle)
            before = count_syncs(log)
            for i in range(n):
                # One at a time, as SMS arrive on a real modem (several per second at most).
                await sim.inject(f"durable {i}")
                await wait_texts(arrivals, [f"durable {i}"], 60.0)
                await asyncio.sleep(gap)
            # The "delivered" bookkeeping commits after the receiver answered.
            await asyncio.sleep(settle)
            after = count_syncs(log)
            if burst:
                texts = [f"burst {i}" for i in range(burst)]
                await inject_all(sim, texts)
                await wait_texts(arrivals, texts, 300.0)
                await asyncio.sleep(settle)
                burst_calls = count_syncs(log) - after
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    calls = after - before
    return {
        "sms": n,
        "gap_s": gap,
        "sync_calls": calls,
        "per_sms": calls / n,
        "burst": burst,
        "burst_sync_calls": burst_calls,
        "burst_per_sms": burst_calls / burst if burst else None,
        "rejected": len(receiver.rejected),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between SMS (after the webhook)")
    parser.add_argument("--burst", type=int, default=0, help="then this many SMS arriving together")
    args = parser.parse_args(argv)
    result = asyncio.run(fsyncs_per_sms(args.sms, gap=args.gap, burst=args.burst))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
