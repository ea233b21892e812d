"""Start and commands on a slow CPU: how long until the daemon says READY, and how long the commands a
user types take, each run several times (as hyperfine does) inside a cgroup with a CPU quota.

- READY: ``raspisms-daemon run`` with one simulated phone (the simulator outside the cgroup, as a modem
  is hardware), from the process start until ``READY=1`` arrives on ``$NOTIFY_SOCKET`` (which the daemon
  sends once the phone answered or gave up, and its API listens). The first start creates the database;
  the others open it, as a reboot does.
- Commands: ``--version``; ``check-config`` on the same config; ``send`` and ``phones`` against that
  daemon, running in the same cgroup (a Pi has one CPU for both).

Targets with 15 % of one core: READY ≤ 3 s; each command ≤ 1 s.

    python -m bench.startup [--quota 15] [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.bench_inbound import daemon_config, running_daemon, start_daemon
from bench.gammu_smsd import simulator_process
from bench.profile import NORMAL, Applied, Quota, cpu_cgroup, stop_profiled
from raspisms_daemon.webhooks.receiver import VerifyingReceiver

__all__ = [
    "COMMANDS",
    "TARGET_COMMAND_S",
    "TARGET_QUOTA",
    "TARGET_READY_S",
    "command_times",
    "ready_times",
    "startup",
]

TARGET_QUOTA = 0.15  # of one core: what the targets below are stated with
TARGET_READY_S = 3.0
TARGET_COMMAND_S = 1.0
COMMANDS = ("--version", "check-config", "send", "phones")


def _argv(command: str, cfg: Path) -> list[str]:
    base = [sys.executable, "-m", "raspisms_daemon"]
    if command == "--version":
        return [*base, "--version"]
    if command == "send":
        return [*base, "send", "-c", str(cfg), "--to", "+33612345678", "--text", "from the bench"]
    return [*base, command, "-c", str(cfg)]


async def _timed(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode(errors='replace')}")
    return elapsed


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "runs": [round(s, 3) for s in samples],
    }


class _NotifySocket:
    """A ``$NOTIFY_SOCKET`` of our own: the time each ``READY=1`` arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)

    async def ready(self, within: float) -> float:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            while True:
                data = await loop.sock_recv(self.sock, 4096)
                if b"READY=1" in data.split(b"\n"):
                    return time.perf_counter()

    def close(self) -> None:
        self.sock.close()


async def ready_times(
    workdir: Path, cfg: Path, applied: Applied, runs: int, *, within: float = 120.0
) -> dict[str, Any]:
    """Start the daemon ``runs`` times on ``cfg`` (the first one creates the database): seconds from
    the process start until READY=1."""
    notify = _NotifySocket(workdir / "notify.sock")
    samples: list[float] = []
    try:
        for _ in range(runs):
            # Not running_daemon: the clock stops at READY=1 on our own socket, not at /healthz.
            start = time.perf_counter()
            proc = await start_daemon(cfg, applied=applied, notify_socket=notify.path)
            try:
                samples.append(await notify.ready(within) - start)
            finally:
                await stop_profiled(proc, traced=applied.traced())
    finally:
        notify.close()
    return {"first_s": samples[0], **_summary(samples[1:] or samples)}


async def command_times(
    cfg: Path, applied: Applied, runs: int, commands: Sequence[str] = COMMANDS
) -> dict[str, dict[str, Any]]:
    """Each command ``runs`` times inside ``applied``'s cgroup (never traced: they do not fsync)."""
    quiet = Applied(replace(applied.profile, fsync_delay_ms=0.0), applied.cgroup)
    out: dict[str, dict[str, Any]] = {}
    for command in commands:
        argv = [*quiet.prefix(), *_argv(command, cfg)]
        await _timed(argv)  # once first: the .pyc files are written, the page cache is warm
        out[command] = _summary([await _timed(argv) for _ in range(runs)])
    return out


async def startup(applied: Applied, *, runs: int, ready_runs: int) -> dict[str, Any]:
    """READY and command times under ``applied`` (its fsync delay, and its cgroup's quota)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    receiver = VerifyingReceiver("unused-key-0123456789abcdef0123")
    await receiver.start("127.0.0.1", 0)
    try:
        async with simulator_process(workdir) as sim:
            cfg = daemon_config(workdir, [sim.link], receiver.url)
            ready = await ready_times(workdir, cfg, applied, ready_runs)
            async with running_daemon(cfg, workdir / "api.sock", applied=applied):
                commands = await command_times(cfg, applied, runs)
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"ready": ready, "commands": commands}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quota", type=float, default=15.0, help="percent of one core (0: no quota)")
    parser.add_argument("--fsync-delay-ms", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--ready-runs", type=int, default=4)
    args = parser.parse_args(argv)
    quota = Quota(args.quota / 100, "given on the command line") if args.quota else None
    profile = replace(NORMAL, fsync_delay_ms=args.fsync_delay_ms)
    with cpu_cgroup(quota) as group:
        applied = Applied(profile, group)
        result = asyncio.run(startup(applied, runs=args.runs, ready_runs=args.ready_runs))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
