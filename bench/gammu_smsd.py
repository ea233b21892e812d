"""The gammu-smsd side of the comparison, and the process helpers the other bench modules share.

Debian's ``gammu-smsd`` (libgammu ``connection = at``) runs in the foreground on the same simulator
(in its own process, driven through its control socket) with its fastest receive settings, and a
``RunOnReceive`` shell script POSTs each SMS to the same verifying receiver as the daemon's webhooks.
The script signs both ways (RaspiSMS HMAC with ``openssl dgst -hmac``, Standard Webhooks headers with
``openssl dgst -binary | base64``) and sends the JSON wire format, so the receiver checks it exactly as
it checks ours. Measured: simulator injection → verified POST.

    python -m bench.gammu_smsd [--sms 20] [--spacing 1.5] [--loop-sleep 0]
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
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bench_inbound import API_KEY, percentile  # the same key: one receiver verifies both sides
from bench.profile import AS_IS, Applied, stop_process, stop_profiled
from raspisms_daemon.simulator import control_path, control_request
from raspisms_daemon.webhooks.receiver import ReceivedDelivery, VerifyingReceiver

__all__ = [
    "API_KEY",
    "GAMMU_SMSD",
    "Arrivals",
    "SimulatorProcess",
    "burst",
    "gammu_smsd_process",
    "inbound_latency",
    "inject_all",
    "simulator_process",
    "timed_burst",
    "wait_texts",
    "write_smsdrc",
]

GAMMU_SMSD = "/usr/bin/gammu-smsd"
SENDER = "+33612345678"

# The RunOnReceive hook. SMS_1_TEXT / SMS_1_NUMBER come from gammu-smsd's environment (gammu-smsd-run(7)).
# Texts injected by the bench are plain ASCII without quotes or backslashes, so printf builds the JSON.
_SCRIPT = """#!/bin/sh
KEY='{key}'
URL='{url}'
ts=$(date +%s)
rid="$ts-$(openssl rand -hex 16)"
sig=$(printf '%s' "$rid" | openssl dgst -sha256 -hmac "$KEY" -r | cut -d' ' -f1)
at=$(date '+%Y-%m-%d %H:%M:%S')
payload=$(printf '{{"webhook_timestamp":%s,"webhook_random_id":"%s","webhook_signature":"%s",\
"webhook_type":"receive_sms",\
"body":{{"id":0,"at":"%s","origin":"%s","destination":1,"text":"%s","mms":0}}}}' \
"$ts" "$rid" "$sig" "$at" "$SMS_1_NUMBER" "$SMS_1_TEXT")
std=$(printf '%s.%s.%s' "$rid" "$ts" "$payload" | openssl dgst -sha256 -hmac "$KEY" -binary | base64 -w0)
exec curl -s -o /dev/null --max-time 15 -H 'Content-Type: application/json' \
  -H "webhook-id: $rid" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$std" \
  --data-binary "$payload" "$URL"
"""


def gammu_smsd_version() -> str:
    """``1.42.0`` from the Debian binary (not python-gammu's bundled libgammu)."""
    import subprocess

    try:
        out = subprocess.run(
            [GAMMU_SMSD, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    first = out.splitlines()[0] if out else ""
    return first.rsplit(" ", 1)[-1] if first else "unknown"


# -- processes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatorProcess:
    """A ``raspisms-daemon simulate serve`` process: its tty link and its control socket."""

    proc: asyncio.subprocess.Process
    link: Path

    @property
    def ctl(self) -> Path:
        return control_path(self.link)

    async def inject(self, text: str, sender: str = SENDER) -> None:
        reply = await control_request(self.ctl, {"op": "sms", "from": sender, "text": text}, timeout=5.0)
        if not reply.get("ok"):
            raise RuntimeError(f"simulator refused the SMS: {reply.get('error')}")


@contextlib.asynccontextmanager
async def simulator_process(
    workdir: Path, name: str = "modem", *, capacity: int = 30, send_delay: str | None = None
) -> AsyncIterator[SimulatorProcess]:
    """A simulated modem in its own process (so its CPU is not the measured process's), killed on exit;
    ``capacity`` SIM slots, ``send_delay`` its ``--send-delay`` (how long the network takes per SMS)."""
    link = workdir / name
    extra = ["--send-delay", send_delay] if send_delay is not None else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "raspisms_daemon", "simulate", "serve", "--link", str(link),
        "--capacity", str(capacity), *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        sim = SimulatorProcess(proc, link)
        deadline = time.monotonic() + 20
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"the simulator exited {proc.returncode}")
            with contextlib.suppress(Exception):
                if (await control_request(sim.ctl, {"op": "state"}, timeout=2.0)).get("ok"):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start")
            await asyncio.sleep(0.05)
        yield sim
    finally:
        await stop_process(proc)


def write_smsdrc(
    workdir: Path,
    device: Path,
    url: str,
    *,
    loop_sleep: int = 0,
    receive_frequency: int = 0,
    run_on_receive: bool = True,
) -> Path:
    """gammu-smsd's config: ``service = null`` (nothing stored: the hook is the delivery), no status,
    security, battery or signal polling, so its loop only looks for SMS."""
    script = workdir / "on_receive.sh"
    script.write_text(_SCRIPT.format(key=API_KEY, url=url))
    script.chmod(0o700)
    rc = workdir / "smsdrc"
    hook = f"RunOnReceive = {script}\n" if run_on_receive else ""
    rc.write_text(
        f"[gammu]\ndevice = {device}\nconnection = at\n\n"
        "[smsd]\nservice = null\n"
        f"logfile = {workdir / 'smsd.log'}\ndebuglevel = 0\n"
        f"ReceiveFrequency = {receive_frequency}\nLoopSleep = {loop_sleep}\nStatusFrequency = 0\n"
        "CheckSecurity = 0\nCheckBattery = 0\nCheckSignal = 0\nCheckNetwork = 0\n"
        "CommTimeout = 1\nHangupCalls = 0\nDeliveryReport = no\n"
        f"{hook}"
    )
    return rc


@contextlib.asynccontextmanager
async def gammu_smsd_process(
    smsdrc: Path, applied: Applied = AS_IS
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``gammu-smsd -c smsdrc`` in the foreground under the profile ``applied`` (its hook's shell, curl
    and openssl inherit the cgroup), killed on exit."""
    proc = await asyncio.create_subprocess_exec(
        *applied.prefix(), GAMMU_SMSD, "-c", str(smsdrc),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield proc
    finally:
        await stop_profiled(proc, traced=applied.traced(), grace=10.0)


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


async def inject_all(sim: SimulatorProcess, texts: Sequence[str], concurrency: int = 16) -> None:
    """The network delivers every text at once (as fast as the simulator takes them): a burst of
    ``+CMTI``, each SMS stored on the SIM."""
    gate = asyncio.Semaphore(concurrency)

    async def one(text: str) -> None:
        async with gate:
            await sim.inject(text)

    await asyncio.gather(*(one(t) for t in texts))


# -- latency -------------------------------------------------------------------------------------------


async def inbound_latency(
    n: int, *, spacing: float = 1.5, loop_sleep: int = 0, per_sms: float = 30.0, applied: Applied = AS_IS
) -> dict[str, Any]:
    """Inject ``n`` SMS, one every ``spacing`` seconds (so it is not a queueing test); latency in ms from
    the injection request to the verified POST of the RunOnReceive script."""
    if not os.access(GAMMU_SMSD, os.X_OK):
        raise RuntimeError(f"{GAMMU_SMSD} is not installed (apt install gammu-smsd)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-gammu-"))
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    def on_delivery(d: ReceivedDelivery) -> None:
        arrived.setdefault(str(d.body["text"]), time.perf_counter())
        got.set()

    receiver = VerifyingReceiver(API_KEY, on_delivery=on_delivery)
    await receiver.start("127.0.0.1", 0)
    latencies: list[float] = []
    try:
        async with simulator_process(workdir) as sim:
            rc = write_smsdrc(workdir, sim.link, receiver.url, loop_sleep=loop_sleep)
            async with gammu_smsd_process(rc, applied) as proc:
                # Warm-up: gammu-smsd identifies the modem first; the first SMS through says it is up.
                await sim.inject("gammu warmup")
                await _wait_text(arrived, got, "gammu warmup", 60.0, proc)
                for i in range(n):
                    text = f"gammu {i}"
                    next_at = time.perf_counter() + spacing
                    start = time.perf_counter()
                    await sim.inject(text)
                    await _wait_text(arrived, got, text, per_sms, proc)
                    latencies.append((arrived[text] - start) * 1000.0)
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    s = sorted(latencies)
    return {
        "sms": n,
        "spacing_s": spacing,
        "loop_sleep": loop_sleep,
        "p50_ms": percentile(s, 50),
        "p99_ms": percentile(s, 99),
        "max_ms": s[-1],
        "mean_ms": statistics.fmean(s),
        "rejected": len(receiver.rejected),
    }


async def timed_burst(
    n: int,
    measured: Callable[[Path, SimulatorProcess, str], AbstractAsyncContextManager[object]],
    *,
    within: float,
    tag: str = "",
) -> dict[str, Any]:
    """``n`` SMS arriving together at a simulator, into what ``measured(workdir, sim, receiver_url)``
    runs while it is entered: ``{"sms", "seconds", "per_s", "inject_s", "rejected"}``, seconds from the
    first injection until the last one was verified at the receiver (``inject_s``: the injections
    alone). ``tag`` starts every text and the temporary directory's name."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{tag.replace(' ', '-')}burst-"))
    arrivals = Arrivals()
    receiver = VerifyingReceiver(API_KEY, on_delivery=arrivals)
    await receiver.start("127.0.0.1", 0)
    texts = [f"{tag}burst {i}" for i in range(n)]
    try:
        async with (
            simulator_process(workdir, capacity=n + 10) as sim,
            measured(workdir, sim, receiver.url),
        ):
            await sim.inject(f"{tag}warmup")
            await wait_texts(arrivals, [f"{tag}warmup"], 120.0)
            start = time.perf_counter()
            await inject_all(sim, texts)
            injected = time.perf_counter() - start
            await wait_texts(arrivals, texts, within)
            seconds = max(arrivals.texts[t] for t in texts) - start
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "sms": n,
        "seconds": seconds,
        "per_s": n / seconds,
        "inject_s": injected,
        "rejected": len(receiver.rejected),
    }


async def burst(n: int, *, applied: Applied = AS_IS, within: float = 900.0) -> dict[str, Any]:
    """``n`` SMS arriving together (as :mod:`bench.burst` does for ours): seconds from the first
    injection until the RunOnReceive hook of the last one was verified at the receiver."""
    if not os.access(GAMMU_SMSD, os.X_OK):
        raise RuntimeError(f"{GAMMU_SMSD} is not installed (apt install gammu-smsd)")
    result = await timed_burst(
        n,
        lambda workdir, sim, url: gammu_smsd_process(
            write_smsdrc(workdir, sim.link, url, loop_sleep=0), applied
        ),
        within=within,
        tag="gammu ",
    )
    del result["inject_s"]  # the gammu_burst figure keeps the keys it has always had
    return result


async def _wait_text(
    arrived: dict[str, float], got: asyncio.Event, text: str, within: float, proc: asyncio.subprocess.Process
) -> None:
    deadline = time.perf_counter() + within
    while text not in arrived:
        if proc.returncode is not None:
            raise RuntimeError(f"gammu-smsd exited {proc.returncode}")
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise RuntimeError(f"{text!r} did not reach the receiver within {within:g} s")
        got.clear()
        with contextlib.suppress(TimeoutError):
            # Short waits so that a gammu-smsd that died is noticed.
            await asyncio.wait_for(got.wait(), min(remaining, 1.0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=1.5, help="seconds between injections")
    parser.add_argument("--loop-sleep", type=int, default=0, help="gammu-smsd LoopSleep (0 = no sleep)")
    args = parser.parse_args(argv)
    result = asyncio.run(inbound_latency(args.sms, spacing=args.spacing, loop_sleep=args.loop_sleep))
    print(json.dumps(result))
    return 0 if result["rejected"] == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
