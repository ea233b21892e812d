"""``raspisms-daemon phones``: the phones of the running daemon (state, signal, operator, last seen).

raspisms-daemon phones [-c FILE] [--json]            list them
raspisms-daemon phones disable ID [--reason TEXT]    stop sending with one (kept across restarts)
raspisms-daemon phones enable ID                     undo that, or a reliability auto-disable
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .send import add_client_config_argument, call_api

__all__ = ["register"]

COLUMNS = ("id", "name", "state", "signal", "operator", "registration", "imei", "last_seen", "device")


def _phone_id(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"a phone id is a positive number, not {value!r}")
    return int(value)


def _add_sub_config_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's own default would overwrite a -c given before the subcommand
    # (argparse copies every sub-namespace value over the parent's).
    parser.add_argument(
        "-c",
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="configuration file of the running daemon (default: as for `phones`)",
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "phones",
        help="list the running daemon's phones and their state; enable or disable one",
        description="Without an action: list the running daemon's phones. `disable ID` stops sending "
        "with a phone (it keeps receiving) until `enable ID`; `enable ID` also undoes an automatic "
        "disable by the reliability check.",
    )
    add_client_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=phones_command)
    actions = parser.add_subparsers(dest="phones_action", metavar="ACTION")

    enable = actions.add_parser("enable", help="send with this phone again")
    _add_sub_config_argument(enable)
    enable.add_argument("id", type=_phone_id, metavar="ID")
    enable.set_defaults(func=enable_command)

    disable = actions.add_parser("disable", help="stop sending with this phone (it keeps receiving)")
    _add_sub_config_argument(disable)
    disable.add_argument("id", type=_phone_id, metavar="ID")
    disable.add_argument("--reason", help="shown in the phone's status and the log")
    disable.set_defaults(func=disable_command)


def phones_command(args: argparse.Namespace) -> int:
    result = call_api(args, "GET", "/api/phones/")
    if isinstance(result, int):
        return result
    phones: list[dict[str, Any]] = result[1].get("response") or []
    if args.json:
        print(json.dumps(phones, indent=2, ensure_ascii=False))
        return 0
    rows = [[("-" if p.get(c) is None else str(p.get(c))) for c in COLUMNS] for p in phones]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if not phones:
        print("(no phone configured)")
    return 0


def _print_state(body: dict[str, Any]) -> None:
    phone = body.get("response") or {}
    state = phone.get("state", "?")
    reason = phone.get("disabled_reason")
    print(f"phone {phone.get('id')}: {state}" + (f" ({reason})" if state == "disabled" and reason else ""))


def enable_command(args: argparse.Namespace) -> int:
    result = call_api(args, "POST", f"/api/phones/{args.id}/enable/")
    if isinstance(result, int):
        return result
    _print_state(result[1])
    return 0


def disable_command(args: argparse.Namespace) -> int:
    payload = {"reason": args.reason} if args.reason else {}
    result = call_api(args, "POST", f"/api/phones/{args.id}/disable/", payload)
    if isinstance(result, int):
        return result
    _print_state(result[1])
    return 0
