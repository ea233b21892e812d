"""``raspisms-daemon phones``: the phones of the running daemon (state, signal, operator, last seen)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .send import add_config_argument, call_api

__all__ = ["register"]

COLUMNS = ("id", "name", "state", "signal", "operator", "registration", "imei", "last_seen", "device")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("phones", help="list the running daemon's phones and their state")
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=phones_command)


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
