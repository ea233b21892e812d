"""Inbound latency: an SMS arrives at the (simulated) modem → the signed webhook is verified at the receiver.

    python -m bench.bench_inbound [--sms 1000] [--smoke]

The daemon runs as its own process (``raspisms-daemon run``), exactly as in production, with a real
SQLite file (WAL, synchronous=FULL: every SMS is fsynced before the modem deletes it). The simulator
and a verifying receiver (both signatures checked) run in this process, so one clock measures from
``inject_sms`` to the verified POST. SMS are injected one at a time (latency, not throughput).
Target: p99 ≤ 50 ms. ``--smoke`` (20 SMS) is for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Container, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.profile import AS_IS, Applied, child_pid, profile_named, stop_profiled
from raspisms_daemon.simulator import Simulator
from raspisms_daemon.webhooks.receiver import ReceivedDelivery, VerifyingReceiver

__all__ = [
    "API_KEY",
    "TARGET_P99_MS",
    "DaemonHandle",
    "daemon_config",
    "daemon_process",
    "percentile",
    "run",
    "running_daemon",
    "start_daemon",
    "wait_arrived",
    "wait_daemon_ready",
]

API_KEY = "bench-key-0123456789abcdef01234567"
TARGET_P99_MS = 50.0


def daemon_config(
    workdir: Path,
    links: Path | Sequence[Path],
    url: str,
    *,
    types: str = "receive_sms",
    phone_keys: str = "",
) -> Path:
    """Write the config of a daemon process under ``workdir``: one phone on each of ``links`` (with the
    extra ``phone_keys`` lines), one webhook of ``types`` to ``url``, the API on the unix socket
    ``workdir/api.sock`` (what :func:`wait_daemon_ready` polls)."""
    links = [links] if isinstance(links, Path) else list(links)
    phones = "".join(f"[phone:{i}]\ndevice = {link}\n{phone_keys}\n" for i, link in enumerate(links, 1))
    cfg = workdir / "config.ini"
    cfg.write_text(
        f"[daemon]\ndatabase = {workdir / 'bench.sqlite3'}\napi_key = {API_KEY}\nlog_level = warning\n\n"
        f"[api]\nlisten = unix:{workdir / 'api.sock'}\n\n"
        f"[webhook:bench]\nurl = {url}\ntypes = {types}\n\n"
        f"{phones}"
    )
    cfg.chmod(0o600)
    return cfg


async def wait_daemon_ready(
    sock: Path, proc: asyncio.subprocess.Process, within: float = 30.0, phones: int = 1
) -> None:
    """Until the daemon behind ``sock`` says ``phones`` phones are connected; exits the bench if it dies
    or is late."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise SystemExit(f"the daemon exited {proc.returncode}")
        try:
            async with (
                aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s,
                s.get("http://daemon/healthz", timeout=aiohttp.ClientTimeout(total=2)) as resp,
            ):
                body = await resp.json()
                if resp.status == 200 and body["phones"]["connected"] >= phones:
                    return
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.05)
    raise SystemExit("the daemon did not become ready")


@dataclass(frozen=True)
class DaemonHandle:
    """The started process (the daemon, or strace around it) and the daemon's own pid."""

    proc: asyncio.subprocess.Process
    pid: int


async def start_daemon(
    cfg: Path,
    *,
    applied: Applied = AS_IS,
    strace_log: Path | None = None,
    notify_socket: Path | None = None,
) -> asyncio.subprocess.Process:
    """``raspisms-daemon run -c cfg`` under the profile ``applied`` (``strace_log``: where strace logs
    the fsync calls), its output discarded, telling ``READY=1`` on ``notify_socket`` (None: to no one,
    even when the bench itself runs under systemd); just started, not yet ready. Stop it with
    :func:`bench.profile.stop_profiled`."""
    return await asyncio.create_subprocess_exec(
        *applied.prefix(strace_log), sys.executable, "-m", "raspisms_daemon", "run", "-c", str(cfg),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "NOTIFY_SOCKET": "" if notify_socket is None else str(notify_socket)},
    )  # fmt: skip


@contextlib.asynccontextmanager
async def daemon_process(
    workdir: Path,
    links: Path | Sequence[Path],
    url: str,
    *,
    applied: Applied = AS_IS,
    strace_log: Path | None = None,
    types: str = "receive_sms",
    phone_keys: str = "",
) -> AsyncIterator[DaemonHandle]:
    """``raspisms-daemon run`` with one phone on each modem in ``links`` and one webhook to ``url``
    (:func:`daemon_config`), as :func:`running_daemon` runs it."""
    links = [links] if isinstance(links, Path) else list(links)
    cfg = daemon_config(workdir, links, url, types=types, phone_keys=phone_keys)
    async with running_daemon(
        cfg, workdir / "api.sock", phones=len(links), applied=applied, strace_log=strace_log
    ) as handle:
        yield handle


@contextlib.asynccontextmanager
async def running_daemon(
    cfg: Path,
    sock: Path,
    *,
    phones: int = 1,
    applied: Applied = AS_IS,
    strace_log: Path | None = None,
) -> AsyncIterator[DaemonHandle]:
    """The daemon on ``cfg`` (:func:`start_daemon`), ready when this yields: its API on the unix socket
    ``sock`` says ``phones`` phones are connected; SIGTERM then SIGKILL on exit."""
    proc = await start_daemon(cfg, applied=applied, strace_log=strace_log)
    traced = applied.traced(strace_log)
    pid: int | None = proc.pid if not traced else None
    try:
        await wait_daemon_ready(sock, proc, within=120.0, phones=phones)
        if pid is None:
            pid = child_pid(proc.pid)
            if pid is None:
                raise RuntimeError("cannot find the daemon under strace")
        yield DaemonHandle(proc, pid)
    finally:
        await stop_profiled(proc, traced=traced)


async def wait_arrived(
    text: str, where: Sequence[Container[str]], got: asyncio.Event, deadline: float, late: str
) -> None:
    """Until ``text`` is in each of ``where`` (looked at each time ``got`` is set); exits the bench with
    ``late`` at ``deadline`` (:func:`time.perf_counter`)."""
    while not all(text in w for w in where):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise SystemExit(late)
        got.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(got.wait(), remaining)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def run(n: int, per_sms: float, applied: Applied = AS_IS) -> dict[str, float]:
    """``n`` SMS one at a time through a daemon process under the profile ``applied``."""
    workdir = Path(tempfile.mkdtemp(prefix="raspisms-bench-"))
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    def on_delivery(d: ReceivedDelivery) -> None:
        arrived.setdefault(d.body["text"], time.perf_counter())
        got.set()

    receiver = VerifyingReceiver(API_KEY, on_delivery=on_delivery)
    await receiver.start("127.0.0.1", 0)
    sim = Simulator(workdir / "modem", noise=False)
    await sim.start()
    latencies: list[float] = []
    try:
        async with daemon_process(workdir, sim.link, receiver.url, applied=applied):
            for i in range(n):
                text = f"bench {i}"
                got.clear()
                start = time.perf_counter()
                await sim.inject_sms("+33612345678", text)
                late = f"SMS {i} did not arrive within {per_sms} s"
                await wait_arrived(text, [arrived], got, start + per_sms, late)
                latencies.append((arrived[text] - start) * 1000.0)
    finally:
        await sim.stop()
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    s = sorted(latencies)
    return {
        "sms": float(n),
        "p50_ms": percentile(s, 50),
        "p99_ms": percentile(s, 99),
        "max_ms": s[-1],
        "mean_ms": statistics.fmean(s),
        "rejected": float(len(receiver.rejected)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=1000, help="how many SMS (default 1000)")
    parser.add_argument("--smoke", action="store_true", help="20 SMS, for CI")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-SMS timeout in seconds")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--profile", choices=["normal", "sd"], default="normal", help="see bench.profile")
    args = parser.parse_args(argv)
    n = 20 if args.smoke else args.sms
    result = asyncio.run(run(n, args.timeout, Applied(profile_named(args.profile))))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"inbound latency over {n} SMS (simulator → daemon process → verified webhook):")
        print(
            f"  p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   max {result['max_ms']:.1f} ms"
            f"   mean {result['mean_ms']:.1f} ms"
        )
        verdict = "OK" if result["p99_ms"] <= TARGET_P99_MS else "ABOVE TARGET"
        print(f"  target p99 ≤ {TARGET_P99_MS:.0f} ms: {verdict}")
    return 0 if result["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
