"""``raspisms-daemon webhooks``: list, add, remove, enable and disable webhooks in the database.

The database is the one named by ``[daemon] database`` in the config file (``-c``), or ``--database``.
Changes are picked up by a running daemon within seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import DeliveryError
from ..store import webhooks as store
from ..store.db import Database
from ..webhooks.events import DEFAULT_FLAVOR, WEBHOOK_FLAVORS, WEBHOOK_FORMATS, WEBHOOK_TYPES
from ..webhooks.tls import ca_file_problem
from ._common import add_database_options, print_table, run_on_database

__all__ = ["register"]


def _types(value: str) -> list[str]:
    items = [t.strip() for t in value.split(",") if t.strip()]
    return list(WEBHOOK_TYPES) if items == ["all"] else items


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "webhooks",
        help="manage webhooks (where events are delivered)",
        description="List, add, remove, enable and disable webhooks.",
    )
    sub = parser.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list webhooks")
    add_database_options(p)
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("add", help="add a webhook")
    add_database_options(p)
    p.add_argument("name")
    p.add_argument("url", help="http:// or https:// URL")
    p.add_argument(
        "--types",
        type=_types,
        default=list(WEBHOOK_TYPES),
        help=f"comma-separated event types, or 'all' (default); known: {', '.join(WEBHOOK_TYPES)}",
    )
    p.add_argument(
        "--format", choices=WEBHOOK_FORMATS, default="form", help="request body format (default form)"
    )
    p.add_argument(
        "--flavor",
        choices=WEBHOOK_FLAVORS,
        default=DEFAULT_FLAVOR,
        help="event bodies as RaspiSMS documents them (default) or as RaspiSMS's code sends them",
    )
    tls = p.add_mutually_exclusive_group()
    tls.add_argument(
        "--ca-file",
        type=Path,
        metavar="PEM",
        help="https: trust the CA certificate(s) in this file instead of the system's (as curl --cacert)",
    )
    tls.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="https: do not check the receiver's certificate (insecure: prefer --ca-file)",
    )
    p.set_defaults(func=cmd_add)

    for action, helptext, func in (
        ("remove", "remove a webhook and its queued deliveries", cmd_remove),
        ("enable", "enable a webhook (its kept deliveries go out at once)", cmd_enable),
        ("disable", "disable a webhook (its deliveries are kept)", cmd_disable),
    ):
        p = sub.add_parser(action, help=helptext)
        add_database_options(p)
        p.add_argument("name")
        p.set_defaults(func=func)


def cmd_list(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        hooks = await store.list_webhooks(db.conn)
        if args.json:
            print(json.dumps([h.as_dict() for h in hooks], indent=2))
            return 0
        if not hooks:
            print("no webhooks")
            return 0
        rows = [
            [
                h.name,
                "yes" if h.enabled else f"no ({h.disabled_reason or 'disabled'})",
                h.format,
                h.flavor,
                h.source,
                ",".join(t for t in WEBHOOK_TYPES if t in h.types),
                _trust(h),
                h.url,
            ]
            for h in hooks
        ]
        print_table(rows, ["NAME", "ENABLED", "FORMAT", "FLAVOR", "SOURCE", "TYPES", "TLS", "URL"])
        for h in hooks:
            if not h.verify:
                print(
                    f"warning: webhook {h.name!r} does not check its receiver's certificate (verify = no): "
                    "anyone on the way can read and forge its deliveries",
                    file=sys.stderr,
                )
        return 0

    return run_on_database(args, action)


def _trust(hook: store.Webhook) -> str:
    """The TLS column of ``webhooks list``: whom the webhook's https receiver must be vouched for by."""
    if not hook.verify:
        return "NOT VERIFIED"
    return f"ca_file {hook.ca_file}" if hook.ca_file else "system CAs"


def cmd_add(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        ca_file = None if args.ca_file is None else str(args.ca_file.absolute())
        store.validate_tls(args.url, ca_file, args.verify)
        if ca_file is not None:
            # Checked as this user; the daemon loads it as its own at each first delivery after a change.
            problem = ca_file_problem(Path(ca_file))
            if problem is not None:
                raise DeliveryError(f"--ca-file: {problem}")
        async with db.transaction() as conn:
            hook = await store.add_webhook(
                conn,
                args.name,
                args.url,
                types=args.types,
                format=args.format,
                flavor=args.flavor,
                ca_file=ca_file,
                verify=args.verify,
                now=time.time(),
            )
        what = f"id {hook.id}, {hook.format}, {hook.flavor}, {len(hook.types)} types, TLS: {_trust(hook)}"
        print(f"webhook {hook.name!r} added ({what})")
        if not hook.verify:
            print(
                "warning: its receiver's certificate will not be checked: anyone on the way can read and "
                "forge its deliveries",
                file=sys.stderr,
            )
        return 0

    return run_on_database(args, action)


def cmd_remove(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        async with db.transaction() as conn:
            pending = await store.remove_webhook(conn, args.name)
        print(
            f"webhook {args.name!r} removed" + (f" ({pending} queued deliveries dropped)" if pending else "")
        )
        return 0

    return run_on_database(args, action)


def cmd_enable(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        async with db.transaction() as conn:
            await store.enable_webhook(conn, args.name, now=time.time())
        print(f"webhook {args.name!r} enabled")
        return 0

    return run_on_database(args, action)


def cmd_disable(args: argparse.Namespace) -> int:
    async def action(db: Database) -> int:
        async with db.transaction() as conn:
            await store.disable_webhook(conn, args.name, "disabled by the user")
        print(f"webhook {args.name!r} disabled (its deliveries are kept until it is enabled again)")
        return 0

    return run_on_database(args, action)
