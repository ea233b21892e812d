"""Durability cost: fsync/fdatasync calls per received SMS, counted by strace on the daemon process.

The daemon (``raspisms-daemon run``, one simulated phone in another process, a verifying receiver in this
one) runs under ``strace -f -e trace=fsync,fdatasync -o FILE``. The calls made before it is ready
(migrations, start-up) are left out: the count is taken when it is ready and again after the last of N
SMS has been verified at the receiver and the daemon had a moment to record the delivery. SMS arrive
one at a time with a short gap, as on a real modem. Everything in between is charged to the SMS: the
receive transaction, the dispatcher's claim and delivery bookkeeping, and any WAL checkpoint.
Target ≤ 2 per SMS.

    python -m bench.durability [--sms 100]

Also the home of :func:`daemon_process`, the daemon-as-a-process helper the footprint bench uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_inbound import daemon_config, wait_daemon_ready
from bench.gammu_smsd import API_KEY, SimulatorProcess, simulator_process, stop_process
from raspisms_daemon.webhooks.receiver import ReceivedDelivery, VerifyingReceiver

__all__ = [
    "TARGET_PER_SMS",
    "Arrivals",
    "DaemonHandle",
    "count_syncs",
    "daemon_process",
    "fsyncs_per_sms",
    "wait_texts",
]

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


@dataclass(frozen=True)
class DaemonHandle:
    """The started process (the daemon, or strace around it) and the daemon's own pid."""

    proc: asyncio.subprocess.Process
    pid: int


def _child_pid(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


@contextlib.asynccontextmanager
async def daemon_process(
    workdir: Path, sim: SimulatorProcess, url: str, *, prefix: Sequence[str] = ()
) -> AsyncIterator[DaemonHandle]:
    """``raspisms-daemon run`` on ``sim`` with one webhook to ``url``, ready (phone connected) when this
    yields; SIGTERM then SIGKILL on exit. ``prefix`` wraps the command (strace)."""
    cfg = daemon_config(workdir, sim.link, url)
    proc = await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-m", "raspisms_daemon", "run", "-c", str(cfg),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "NOTIFY_SOCKET": ""},
    )  # fmt: skip
    pid: int | None = None if prefix else proc.pid
    try:
        await wait_daemon_ready(workdir / "api.sock", proc, within=60.0)
        if pid is None:
            pid = _child_pid(proc.pid)
            if pid is None:
                raise RuntimeError("cannot find the daemon under strace")
        yield DaemonHandle(proc, pid)
    finally:
        if pid is None:
            pid = _child_pid(proc.pid)
        if prefix and pid is not None:
            # Signal the daemon itself: a SIGTERM to strace would detach and leave the daemon running.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        await stop_process(proc, grace=30.0)


class Arrivals:
    """Texts verified at the receiver, with an event to wait on."""

    def __init__(self) -> None:
        self.texts: dict[str, float] = {}
        self.changed = asyncio.Event()

    def __call__(self, delivery: ReceivedDelivery) -> None:
        self.texts.setdefault(str(delivery.body.get("text")), time.perf_counter())
        self.changed.set()


async def wait_texts(arrivals: Arrivals, texts: Sequence[str], within: float) -> None:
    """Until every text in ``texts`` has been verified at the receiver (TimeoutError after ``within``)."""
    async with asyncio.timeout(within):
        while not all(t in arrivals.texts for t in texts):
            arrivals.changed.clear()
            await arrivals.changed.wait()


async def fsyncs_per_sms(n: int, *, gap: float = 0.1, settle: float = 1.0) -> dict[str, Any]:
    """``gap``: pause after each verified webhook, so that each SMS is on its own as on a real modem
    (back to back, the delivery bookkeeping of one SMS shares a commit with the next one's)."""
    if shutil.which("strace") is None:
        raise RuntimeError("strace is not installed (apt install strace)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-durability-"))
    log = workdir / "strace.log"
    arrivals = Arrivals()
    receiver = VerifyingReceiver(API_KEY, on_delivery=arrivals)
    await receiver.start("127.0.0.1", 0)
    try:
        async with simulator_process(workdir) as sim:
            strace = ("strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-e", "signal=none", "-o")
            prefix = (*strace, str(log))
            async with daemon_process(workdir, sim, receiver.url, prefix=prefix):
                await sim.inject("warmup")
                await wait_texts(arrivals, ["warmup"], 30.0)
                await asyncio.sleep(settle)
                before = count_syncs(log)
                for i in range(n):
                    # One at a time, as SMS arrive on a real modem (several per second at most).
                    await sim.inject(f"durable {i}")
                    await wait_texts(arrivals, [f"durable {i}"], 30.0)
                    await asyncio.sleep(gap)
                # The "delivered" bookkeeping commits after the receiver answered.
                await asyncio.sleep(settle)
                after = count_syncs(log)
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    calls = after - before
    return {
        "sms": n,
        "gap_s": gap,
        "sync_calls": calls,
        "per_sms": calls / n,
        "rejected": len(receiver.rejected),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between SMS (after the webhook)")
    args = parser.parse_args(argv)
    result = asyncio.run(fsyncs_per_sms(args.sms, gap=args.gap))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
