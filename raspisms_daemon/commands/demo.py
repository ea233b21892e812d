"""``raspisms-daemon demo``: the whole chain on this machine, no hardware, in a few seconds.

It starts a simulated modem, the daemon (temporary database, random API key) and a local receiver that
verifies both signatures of every webhook (RaspiSMS's HMAC and Standard Webhooks); then it injects a
plain SMS and a multipart SMS with emoji, sends an SMS through the local HTTP API (``X-Api-Key``) and
lets its delivery report come back, and rings a call. Each webhook is printed as it is verified, then a
summary. Exit 0 when every expected webhook arrived, 1 otherwise. ``--keep-running`` leaves everything
up to play with, and prints how.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from ..clock import within

__all__ = ["register"]

SENDER = "+33612345678"
RECIPIENT = "+33698765432"
MULTIPART_TEXT = (
    "Hello from the raspisms-daemon demo 👋 This message is long enough to travel as several SMS parts; "
    "the daemon joins them back into one receive_sms webhook 🎉✅"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole chain locally: simulated modem → daemon → verifying webhook receiver",
        description="Start a simulated modem, the daemon and a local webhook receiver that verifies every "
        "signature; receive SMS, send one, ring a call; print each webhook and a summary.",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave everything running afterwards (Ctrl-C to stop) and print how to use it",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for each expected webhook (default 30)",
    )
    parser.add_argument(
        "--personality",
        default="generic",
        choices=["generic", "huawei", "quectel", "sim800"],
        help="which modem the simulator imitates",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        type=_api_key,
        help="sign with this key instead of a random one (to point a receiver of your own at --keep-running)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="show the daemon's log (-vv: debug)"
    )
    parser.set_defaults(func=demo_command)


def _api_key(value: str) -> str:
    from ..config import validate_api_key

    problem = validate_api_key(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def demo_command(args: argparse.Namespace) -> int:
    from ..logs import setup_logging

    setup_logging({0: "error", 1: "info"}.get(args.verbose, "debug"))
    workdir = Path(tempfile.mkdtemp(prefix="raspisms-demo-"))
    try:
        return asyncio.run(_demo(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _say(text: str = "") -> None:
    print(text, flush=True)


class _Watcher:
    """Collects verified deliveries and lets the demo wait for one that matches."""

    def __init__(self) -> None:
        self.deliveries: list[Any] = []
        self._changed = asyncio.Event()

    def on_delivery(self, d: Any) -> None:
        self.deliveries.append(d)
        _say(f"  ✔ webhook {d.type:<22} verified (RaspiSMS HMAC + Standard Webhooks, {d.format})")
        _say(f"      body: {json.dumps(d.body, ensure_ascii=False)}")
        self._changed.set()

    async def wait(self, pred: Callable[[Any], bool], seconds: float) -> Any | None:
        deadline = time.monotonic() + seconds
        while True:
            for d in self.deliveries:
                if pred(d):
                    return d
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                await within(self._changed.wait(), remaining)
            except TimeoutError:
                pass


async def _demo(args: argparse.Namespace, workdir: Path) -> int:
    from ..config import (
        ApiConfig,
        Config,
        DaemonConfig,
        DeliveryConfig,
        PhoneConfig,
        ReliabilityConfig,
        WebhookConfig,
    )
    from ..daemon import Daemon
    from ..simulator import ControlServer, Simulator
    from ..webhooks.receiver import VerifyingReceiver

    api_key = args.api_key or secrets.token_hex(16)
    watcher = _Watcher()
    receiver = VerifyingReceiver(api_key, on_delivery=watcher.on_delivery)
    await receiver.start("127.0.0.1", 0)
    sim = Simulator(workdir / "modem", args.personality)
    await sim.start()
    control = ControlServer(sim)  # for `simulate sms --link …` while the demo runs
    await control.start()
    config = Config(
        daemon=DaemonConfig(database=workdir / "demo.sqlite3", api_key=api_key),
        api=ApiConfig(enabled=True, listen="127.0.0.1:0"),
        delivery=DeliveryConfig(schedule=(0.0, 1.0, 2.0, 5.0, 10.0)),
        reliability=ReliabilityConfig(),
        webhooks=(WebhookConfig("demo", receiver.url),),
        phones=(PhoneConfig(id=1, name="demo", device=str(sim.link), send_rate=60.0, sweep_interval=5.0),),
    )
    daemon = Daemon(config)
    task = asyncio.create_task(daemon.run(), name="demo-daemon")
    results: list[tuple[str, bool]] = []
    try:
        _say(f"raspisms-daemon demo (work dir {workdir})")
        _say(f"  simulated {args.personality} modem on {sim.link}")
        _say(f"  webhook receiver on {receiver.url}")
        ready = asyncio.create_task(daemon.ready.wait())
        await asyncio.wait({ready, task}, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
        if task.done() or not ready.done():
            ready.cancel()
            _say("✘ the daemon did not start" + (f": {task.exception()}" if task.done() else ""))
            return 1
        connected = [p for p in daemon.phone_status() if p.state == "connected"]
        _say(f"  daemon ready, local API on {daemon.api_url}, phone(s) connected: {len(connected)}")
        _say()

        async def step(title: str, expected: str, pred: Callable[[Any], bool]) -> Any | None:
            d = await watcher.wait(pred, args.timeout)
            if d is None:
                _say(f"  ✘ no {expected} webhook within {args.timeout:g} s")
            results.append((title, d is not None))
            return d

        _say(f"1. an SMS arrives from {SENDER}")
        await sim.inject_sms(SENDER, "Hello from the simulated network!")
        await step(
            "plain SMS → receive_sms",
            "receive_sms",
            lambda d: d.type == "receive_sms" and d.body["text"].startswith("Hello from the simulated"),
        )

        parts = await sim.inject_sms(SENDER, MULTIPART_TEXT)
        _say(f"2. a multipart SMS with emoji arrives ({len(parts)} parts)")
        await step(
            "multipart SMS with emoji → one receive_sms",
            "receive_sms",
            lambda d: d.type == "receive_sms" and d.body["text"] == MULTIPART_TEXT,
        )

        _say(f"3. sending an SMS to {RECIPIENT} through the local API (POST /api/scheduled/, X-Api-Key)")
        sim.set_reports("delivered", delay=1.0)
        async with (
            aiohttp.ClientSession(headers={"X-Api-Key": api_key}) as http,
            http.post(
                f"{daemon.api_url}/api/scheduled/",
                json={"text": "Sent through raspisms-daemon 📨", "numbers": [RECIPIENT], "tag": "demo"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp,
        ):
            answer = await resp.json()
            _say(f"      API answered HTTP {resp.status}: {json.dumps(answer, ensure_ascii=False)}")
        sent = await step("SMS sent → send_sms", "send_sms", lambda d: d.type == "send_sms")
        if sent is not None:
            await step(
                "delivery report → send_sms_status_change",
                "send_sms_status_change",
                lambda d: d.type == "send_sms_status_change" and d.body["id"] == sent.body["id"],
            )
        else:
            results.append(("delivery report → send_sms_status_change", False))

        _say("4. a call rings from " + SENDER)
        await sim.ring(SENDER, ring_seconds=2.0)
        await step("incoming call → inbound_call", "inbound_call", lambda d: d.type == "inbound_call")

        _say()
        _say("Summary")
        for title, ok in results:
            _say(f"  {'✔' if ok else '✘'} {title}")
        ok_all = all(ok for _, ok in results)
        _say(
            f"{len(watcher.deliveries)} webhook(s) delivered and verified; "
            + ("everything arrived." if ok_all else "SOMETHING IS MISSING.")
        )
        if receiver.rejected:
            _say(f"  ✘ {len(receiver.rejected)} request(s) failed verification: {receiver.rejected[0][0]}")
            ok_all = False

        if args.keep_running:
            await _keep_running(daemon, sim, control, receiver, api_key, workdir)
        return 0 if ok_all else 1
    finally:
        daemon.request_stop()
        try:
            await within(task, 30)
        except Exception as exc:  # the demo's own failure is already reported; say why it stopped badly
            _say(f"(daemon stopped with an error: {exc!r})")
        await control.close()
        await sim.stop()
        await receiver.stop()


async def _keep_running(
    daemon: Any, sim: Any, control: Any, receiver: Any, api_key: str, workdir: Path
) -> None:
    cfg = workdir / "config.ini"
    listen = str(daemon.api_url).removeprefix("http://")
    cfg.write_text(
        f"[daemon]\ndatabase = {workdir / 'demo.sqlite3'}\napi_key = {api_key}\n\n[api]\nlisten = {listen}\n"
    )
    cfg.chmod(0o600)
    exe = (
        Path(sys.argv[0]).name if sys.argv and sys.argv[0].endswith("raspisms-daemon") else "raspisms-daemon"
    )
    _say()
    _say("Everything keeps running (Ctrl-C to stop):")
    _say(f"  simulated modem  {sim.link}  (control socket {control.path})")
    _say(f"  local API        {daemon.api_url}")
    _say(f"  API key          {api_key}")
    _say(f"  receiver         {receiver.url}")
    _say(f"  client config    {cfg}")
    _say()
    _say("Try:")
    _say(f"  {exe} simulate sms --link {sim.link} --from +33611111111 --text 'hi there'")
    _say(f"  {exe} simulate call --link {sim.link} --from +33611111111 --ring-seconds 3")
    _say(f"  {exe} send -c {cfg} --to +33698765432 --text 'hello'")
    _say(f"  {exe} phones -c {cfg}")
    _say(f"  curl -H 'X-Api-Key: {api_key}' {daemon.api_url}/api/list/received/")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    _say("stopping")
