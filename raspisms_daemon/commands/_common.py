"""What several commands share: the ``-c/--config`` option, config error output, opening the database
for one action, and plain-text tables. (Underscored, so ``cli`` does not take it for a command.)

What only the database commands need (asyncio, SQLite) is imported when they run: ``check-config`` and
``send`` use this module too, and must start fast on a Pi."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import DEFAULT_CONFIG_PATH, EX_CONFIG, format_problem, load_config
from ..errors import ConfigError, RaspismsError

if TYPE_CHECKING:
    from ..store.db import Database

__all__ = [
    "add_config_argument",
    "add_database_options",
    "print_config_problems",
    "print_table",
    "resolve_database",
    "run_on_database",
    "when",
]


def add_config_argument(parser: argparse.ArgumentParser, *, what: str = "configuration file") -> None:
    """``-c/--config FILE``, defaulting to the path the systemd unit uses."""
    parser.add_argument(
        "-c",
        "--config",
        default=str(DEFAULT_CONFIG_PATH),
        metavar="FILE",
        help=f"{what} (default: {DEFAULT_CONFIG_PATH})",
    )


def print_config_problems(error: ConfigError) -> None:
    """One ``config error: [section] key: message`` line per problem, on stderr."""
    for problem in error.problems:
        print(format_problem(problem), file=sys.stderr)


def add_database_options(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, what="configuration file whose [daemon] database to use")
    parser.add_argument("--database", default=None, metavar="PATH", help="use this SQLite file directly")


def resolve_database(args: argparse.Namespace) -> Path:
    """``--database``, else the config file's ``[daemon] database``; raises ConfigError."""
    if args.database:
        return Path(args.database)
    return load_config(args.config).daemon.database


def run_on_database(args: argparse.Namespace, action: Callable[[Database], Awaitable[int]]) -> int:
    """Open the database, run ``action``, close; clear one-line errors and exit status, no traceback."""
    import asyncio
    import sqlite3

    from ..store.db import open_database

    try:
        path = resolve_database(args)
    except ConfigError as exc:
        print_config_problems(exc)
        print("(or name the database with --database PATH)", file=sys.stderr)
        return EX_CONFIG

    async def main() -> int:
        db = await open_database(path)
        try:
            return await action(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except RaspismsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        print(f"error: database {path}: {exc}", file=sys.stderr)
        return 1


def when(ts: float | None) -> str:
    """A stored unix time as the local ``YYYY-MM-DD HH:MM:SS`` a shell user reads; ``-`` when unset."""
    from ..clock import SystemClock
    from ..dates import format_date

    return "-" if ts is None else format_date(SystemClock().local(ts))


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
