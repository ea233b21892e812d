"""``raspisms-daemon simulate …``: run a virtual GSM modem, and drive a running one.

    raspisms-daemon simulate serve --link /tmp/modem [--personality huawei] [--pin 1234] [--send-delay 2-4]
    raspisms-daemon simulate sms --link /tmp/modem --from +33611111111 --text "hello"
    raspisms-daemon simulate pdu --link /tmp/modem 0791… [--kind status_report]
    raspisms-daemon simulate call --link /tmp/modem --from +33611111111 [--ring-seconds 5]
    raspisms-daemon simulate hangup --link /tmp/modem [--silent]
    raspisms-daemon simulate reports --link /tmp/modem delivered|failed|none [--delay 2]
    raspisms-daemon simulate fault --link /tmp/modem unplug|replug|stall|unstall|garbage|error[:n]|sms_error
    raspisms-daemon simulate fault --link /tmp/modem drop_urcs[:n]
    raspisms-daemon simulate state --link /tmp/modem
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a virtual GSM modem (no hardware needed) or drive a running one",
        description="A virtual GSM modem on a pseudo-terminal, and commands for its control socket.",
    )
    sub = parser.add_subparsers(dest="simulate_command", metavar="ACTION", required=True)

    serve = sub.add_parser("serve", help="run a simulated modem until SIGINT/SIGTERM")
    _link(serve)
    serve.add_argument(
        "--personality", default="generic", choices=["generic", "huawei", "quectel", "sim800", "wavecom"]
    )
    serve.add_argument(
        "--cpms-form",
        choices=["groups", "spaced", "flat", "mixed", "nested"],
        help="how AT+CPMS=? words the storages (default: the personality's)",
    )
    serve.add_argument(
        "--line-endings", choices=["crlf", "cr"], default="crlf", help="end answer lines with CR LF or CR"
    )
    serve.add_argument("--pin", help="the SIM asks for this PIN (AT+CPIN)")
    serve.add_argument("--imei", default="867000000000001")
    serve.add_argument("--operator", default="SIMNET")
    serve.add_argument("--capacity", type=int, default=30, help="SIM storage slots (default 30)")
    serve.add_argument(
        "--send-delay",
        type=_send_delay,
        default=None,
        metavar="SECONDS|LOW-HIGH",
        help="how long the network takes to answer AT+CMGS: seconds, or a range drawn from for each SMS "
        "(real networks: 2-4; default 0.05)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log every AT command and URC")
    serve.set_defaults(func=_serve)

    sms = sub.add_parser("sms", help="deliver an SMS to the simulated modem")
    _link(sms)
    sms.add_argument("--from", dest="sender", required=True, help="sender number (+33…) or name")
    sms.add_argument("--text", required=True)
    sms.set_defaults(func=_sms)

    pdu = sub.add_parser("pdu", help="store a raw PDU (hex, even a broken one) as the network would")
    _link(pdu)
    pdu.add_argument("pdu", help="the PDU in hex, SMSC address included")
    pdu.add_argument("--kind", choices=["deliver", "status_report"], default="deliver")
    pdu.set_defaults(
        func=lambda args: _request(args, {"op": "pdu", "pdu": args.pdu, "kind": args.kind}, show="index")
    )

    call = sub.add_parser("call", help="ring the simulated modem")
    _link(call)
    call.add_argument("--from", dest="sender", required=True)
    call.add_argument("--ring-seconds", type=float, help="the caller hangs up after this (default: never)")
    call.set_defaults(func=_call)

    hangup = sub.add_parser("hangup", help="the caller hangs up")
    _link(hangup)
    hangup.add_argument(
        "--silent", action="store_true", help="the modem prints nothing (it just stops ringing)"
    )
    hangup.set_defaults(func=lambda args: _request(args, {"op": "end_call", "silent": args.silent}))

    reports = sub.add_parser("reports", help="status reports for what is sent from now on")
    _link(reports)
    reports.add_argument("mode", choices=["delivered", "failed", "none"])
    reports.add_argument("--delay", type=float, default=0.0, help="seconds before the report arrives")
    reports.set_defaults(
        func=lambda args: _request(args, {"op": "reports", "mode": args.mode, "delay": args.delay})
    )

    fault = sub.add_parser("fault", help="make the modem misbehave")
    _link(fault)
    fault.add_argument(
        "kind",
        help="unplug, replug, stall, unstall, garbage, error[:n], sms_error, "
        "drop_urcs[:n] (the next n new-message indications are lost)",
    )
    fault.set_defaults(func=lambda args: _request(args, {"op": "fault", "kind": args.kind}))

    state = sub.add_parser("state", help="print the simulated modem's state as JSON")
    _link(state)
    state.set_defaults(func=_state)


def _send_delay(value: str) -> float | tuple[float, float]:
    """``3`` or ``2-4`` (seconds, not negative, low ≤ high)."""
    low, sep, high = value.partition("-")
    try:
        bounds = (float(low), float(high)) if sep else (float(low), float(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not SECONDS or LOW-HIGH, e.g. 2-4") from None
    if bounds[0] < 0 or bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"{value!r}: seconds not negative, the low bound first")
    return bounds if sep else bounds[0]


def _link(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--link", required=True, type=Path, help="path of the virtual tty (a symlink)")


def _serve(args: argparse.Namespace) -> int:
    from ..simulator import ControlServer, Simulator

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    async def run() -> None:
        sim = Simulator(
            args.link,
            args.personality,
            pin=args.pin,
            imei=args.imei,
            operator=args.operator,
            capacity=args.capacity,
            cpms_form=args.cpms_form,
            line_endings=args.line_endings,
        )
        if args.send_delay is not None:
            sim.send_delay = args.send_delay
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await sim.start()
        try:
            async with ControlServer(sim) as control:
                print(f"simulated {args.personality} modem at {sim.link} -> {sim.tty}", flush=True)
                print(f"control socket {control.path}; stop with Ctrl-C", flush=True)
                await stop.wait()
        finally:
            await sim.stop()

    try:
        asyncio.run(run())
    except (OSError, ValueError) as exc:
        print(f"simulate serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _sms(args: argparse.Namespace) -> int:
    return _request(args, {"op": "sms", "from": args.sender, "text": args.text}, show="indexes")


def _call(args: argparse.Namespace) -> int:
    return _request(args, {"op": "call", "from": args.sender, "ring_seconds": args.ring_seconds})


def _state(args: argparse.Namespace) -> int:
    return _request(args, {"op": "state"}, show="state")


def _request(args: argparse.Namespace, request: dict[str, Any], *, show: str | None = None) -> int:
    from ..simulator import ControlError, control_path, control_request

    try:
        reply = asyncio.run(control_request(control_path(args.link), request))
    except ControlError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    if not reply.get("ok"):
        print(f"simulate: {reply.get('error', 'failed')}", file=sys.stderr)
        return 1
    if show == "state":
        print(json.dumps(reply["state"], indent=2))
    elif show is not None:
        print(json.dumps(reply.get(show)))
    return 0
