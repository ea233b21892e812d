"""``raspisms-daemon attach [--device PATH]``: tell the running daemon a modem appeared (the udev rule
calls this), so the phone on that device reconnects now instead of at its next retry."""

from __future__ import annotations

import argparse
from typing import Any

from .send import add_client_config_argument, call_api

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "attach",
        help="tell the running daemon that a modem was plugged in",
        description="Ask the running daemon to (re)connect the phone on DEVICE now (every phone that is "
        "not connected when no device is given). Used by the udev rule.",
    )
    add_client_config_argument(parser)
    parser.add_argument("--device", metavar="PATH", help="the device that appeared, e.g. /dev/ttyUSB2")
    parser.set_defaults(func=attach_command)


def attach_command(args: argparse.Namespace) -> int:
    result = call_api(args, "POST", "/api/daemon/attach/", {"device": args.device})
    if isinstance(result, int):
        return result
    ids = (result[1].get("response") or {}).get("phones") or []
    which = ", ".join(map(str, ids)) if ids else "none"
    print(f"attach {args.device or '(any device)'}: phones {which} reconnecting")
    return 0
