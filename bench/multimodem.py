"""Several modems: N SMS sent through 4 simulated modems vs through 1, with a network that takes 2–4 s
to answer each ``AT+CMGS`` (``simulate serve --send-delay 2-4``, as real networks do).

Each simulator runs in its own process; the daemon (``raspisms-daemon run``, one phone per modem, no
send rate limit in the way: ``send_rate = 600`` parts a minute) gets one scheduled SMS to N different
numbers through its API, and the clock runs from that request until the N-th ``send_sms`` webhook is
verified at the receiver. The figure is the ratio of the two rates (SMS per second). Target: 4 modems
≥ 3.6 × one.

    python -m bench.multimodem [--sms 200] [--modems 1 4] [--send-delay 2-4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_inbound import API_KEY, daemon_process
from bench.gammu_smsd import SimulatorProcess, simulator_process
from bench.profile import AS_IS, Applied
from raspisms_daemon.webhooks.receiver import ReceivedDelivery, VerifyingReceiver

__all__ = ["SEND_DELAY", "TARGET_RATIO", "multimodem", "send_rate"]

TARGET_RATIO = 3.6
SEND_DELAY = "2-4"


async def send_rate(
    n: int, modems: int, *, send_delay: str = SEND_DELAY, applied: Applied = AS_IS
) -> dict[str, Any]:
    """``n`` SMS through ``modems`` simulated modems: ``{"sms", "modems", "seconds", "per_s", …}``."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-multimodem-"))
    sent: dict[str, float] = {}
    by_phone: dict[int, int] = {}
    done = asyncio.Event()

    def on_delivery(d: ReceivedDelivery) -> None:
        if d.type != "send_sms":
            return
        sent.setdefault(str(d.body.get("destination")), time.perf_counter())
        origin = int(d.body.get("origin") or 0)
        by_phone[origin] = by_phone.get(origin, 0) + 1
        if len(sent) >= n:
            done.set()

    receiver = VerifyingReceiver(API_KEY, on_delivery=on_delivery)
    await receiver.start("127.0.0.1", 0)
    numbers = [f"+336{i:08d}" for i in range(n)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            sims: list[SimulatorProcess] = []
            for i in range(modems):
                sims.append(
                    await stack.enter_async_context(
                        simulator_process(workdir, f"modem{i}", send_delay=send_delay)
                    )
                )
            await stack.enter_async_context(
                daemon_process(
                    workdir,
                    [s.link for s in sims],
                    receiver.url,
                    applied=applied,
                    types="send_sms",
                    phone_keys="send_rate = 600\n",
                )
            )
            start = time.perf_counter()
            await _schedule(workdir / "api.sock", numbers)
            await asyncio.wait_for(done.wait(), n * 10.0)
            seconds = max(sent.values()) - start
    finally:
        await receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "sms": n,
        "modems": modems,
        "send_delay_s": send_delay,
        "seconds": seconds,
        "per_s": n / seconds,
        "by_phone": {str(k): v for k, v in sorted(by_phone.items())},
        "rejected": len(receiver.rejected),
    }


async def _schedule(sock: Path, numbers: list[str]) -> None:
    """One SMS to every number, through the daemon's API (``POST /api/scheduled/``)."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as session,
        session.post(
            "http://daemon/api/scheduled/",
            json={"text": "from the multimodem bench", "numbers": numbers},
            headers={"X-Api-Key": API_KEY},
        ) as resp,
    ):
        if resp.status >= 300:
            raise RuntimeError(f"the daemon refused the SMS: HTTP {resp.status} {await resp.text()}")


async def multimodem(n: int, *, send_delay: str = SEND_DELAY, applied: Applied = AS_IS) -> dict[str, Any]:
    """One modem, then four: ``{"one": …, "four": …, "ratio": four's rate ÷ one's}``."""
    one = await send_rate(n, 1, send_delay=send_delay, applied=applied)
    four = await send_rate(n, 4, send_delay=send_delay, applied=applied)
    return {"one": one, "four": four, "ratio": four["per_s"] / one["per_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms", type=int, default=200)
    parser.add_argument("--modems", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--send-delay", default=SEND_DELAY, help="seconds, or LOW-HIGH (default 2-4)")
    args = parser.parse_args(argv)

    async def run() -> list[dict[str, Any]]:
        return [await send_rate(args.sms, m, send_delay=args.send_delay) for m in args.modems]

    print(json.dumps(asyncio.run(run()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
