"""``raspisms-daemon deliveries``: list outbox rows, show one with its attempts, replay one."""

from __future__ import annotations

import argparse
import json
import time

from ..store import outbox
from ..store import webhooks as store_webhooks
from ..store.db import Database
from ._common import add_database_options, print_table, run_on_database, when

__all__ = ["register"]


def _delivery_id(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a delivery id is a number, not {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"a delivery id is a positive number, not {value!r}")
    return n


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deliveries",
        help="inspect and replay webhook deliveries",
        description="List webhook deliveries (outbox rows), show one with every attempt, replay one.",
    )
    sub = parser.add_subparsers(dest="deliveries_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list deliveries, newest first")
    add_database_options(p)
    p.add_argument("--state", choices=[s.value for s in outbox.DeliveryState])
    p.add_argument("--webhook", metavar="NAME")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show one delivery and its attempts")
    add_database_options(p)
    p.add_argument("id", type=_delivery_id)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("replay", help="send a delivery again (same random id), now")
    add_database_options(p)
    p.add_argument("id", type=_delivery_id)
    p.set_defaults(func=cmd_replay)


def cmd_list(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        if args.webhook is not None:
            await store_webhooks.get_webhook(db.conn, args.webhook)  # "no webhook named …" (exit 1)
        items = await outbox.list_deliveries(
            db.conn, state=args.state, webhook=args.webhook, limit=args.limit
        )
        if args.json:
            print(json.dumps([d.as_dict() for d in items], indent=2))
            return 0
        if not items:
            print("no deliveries")
            return 0
        rows = [
            [
                str(d.id),
                d.webhook,
                d.type,
                d.state.value,
                str(d.attempts),
                when(d.delivered_at)
                if d.delivered_at
                else (when(d.next_attempt_at) if d.state is outbox.DeliveryState.PENDING else "-"),
                str(d.last_status or d.last_error or "-")[:60],
            ]
            for d in items
        ]
        print_table(rows, ["ID", "WEBHOOK", "TYPE", "STATE", "ATTEMPTS", "DELIVERED/NEXT", "LAST"])
        return 0

    return run_on_database(args, action)


def cmd_show(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        d = await outbox.get_delivery(db.conn, args.id)
        attempts = await outbox.list_attempts(db.conn, args.id)
        if args.json:
            print(json.dumps({**d.as_dict(), "attempts_log": [a.as_dict() for a in attempts]}, indent=2))
            return 0
        print(f"delivery {d.id}: {d.type} to webhook {d.webhook!r}")
        print(f"  state        {d.state.value} after {d.attempts} attempts")
        print(f"  random id    {d.random_id}")
        print(f"  timestamp    {d.timestamp} ({when(d.timestamp)})")
        print(f"  created      {when(d.created_at)}")
        if d.state is outbox.DeliveryState.PENDING:
            print(f"  next attempt {when(d.next_attempt_at)}")
        if d.delivered_at:
            print(f"  delivered    {when(d.delivered_at)}")
        if d.last_status or d.last_error:
            print(f"  last result  {d.last_status or d.last_error}")
        print(f"  body         {d.body}")
        if attempts:
            print("  attempts:")
            print_table(
                [
                    [
                        f"    {when(a.at)}",
                        # local: failed on this machine, not counted in "after N attempts"
                        str(a.status) if a.status is not None else "local" if a.local else "-",
                        f"{a.duration_ms:.0f} ms",
                        a.error or "",
                    ]
                    for a in attempts
                ],
                ["    AT", "STATUS", "DURATION", "ERROR"],
            )
        return 0

    return run_on_database(args, action)


def cmd_replay(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        async with db.transaction() as conn:
            d = await outbox.replay_delivery(conn, args.id, now=time.time())
        print(f"delivery {d.id} is pending and due now (random id {d.random_id} kept)")
        return 0

    return run_on_database(args, action)
