"""``raspisms-daemon stop``: the SMS STOP list (numbers that answered STOP and get no more SMS).

    raspisms-daemon stop list [--json]      the numbers, when, on which phone, sends skipped since
    raspisms-daemon stop add NUMBER         put a number on it by hand
    raspisms-daemon stop remove NUMBER      take a number off it: it can be sent to again

The database is the one named by ``[daemon] database`` in the config file (``-c``), or ``--database``;
the sender reads the list for every SMS, so a running daemon sees a change at once.
"""

from __future__ import annotations

import argparse
import json
import time

from ..store import smsstop as store
from ..store.db import Database
from ._common import add_database_options, print_table, run_on_database, when

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "stop",
        help="the SMS STOP list: list, add or remove numbers",
        description="Numbers that sent STOP (or were added by hand) get no SMS, except SMS tagged SMS_STOP.",
    )
    sub = parser.add_subparsers(dest="stop_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list the numbers on the STOP list")
    add_database_options(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_list)

    for action, helptext, func in (
        ("add", "put a number on the STOP list", cmd_add),
        ("remove", "take a number off the STOP list", cmd_remove),
    ):
        p = sub.add_parser(action, help=helptext)
        add_database_options(p)
        p.add_argument("number", help="as the network gives it, e.g. +33612345678")
        p.set_defaults(func=func)


def cmd_list(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        entries = await store.entries(db)
        if args.json:
            print(json.dumps([e.as_dict() for e in entries], indent=2))
            return 0
        if not entries:
            print("the SMS STOP list is empty")
            return 0
        rows = [
            [
                e.number,
                when(e.at),
                "by hand" if e.id_phone is None else f"phone {e.id_phone}",
                str(e.skipped),
                when(e.last_skipped_at),
            ]
            for e in entries
        ]
        print_table(rows, ["NUMBER", "SINCE", "FROM", "SKIPPED", "LAST SKIPPED"])
        return 0

    return run_on_database(args, action)


def cmd_add(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        async with db.transaction() as conn:
            added = await store.add(conn, args.number.strip(), at=time.time())
        print(
            f"{args.number} " + ("added to the SMS STOP list" if added else "is on the SMS STOP list already")
        )
        return 0

    return run_on_database(args, action)


def cmd_remove(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        async with db.transaction() as conn:
            removed = await store.remove(conn, args.number.strip())
        if not removed:
            print(f"error: {args.number} is not on the SMS STOP list")
            return 1
        print(f"{args.number} removed from the SMS STOP list: it can be sent to again")
        return 0

    return run_on_database(args, action)
