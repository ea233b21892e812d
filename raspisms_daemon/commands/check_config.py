"""``raspisms-daemon check-config``: validate the config file the way ``run`` does, without starting."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..config import DEFAULT_CONFIG_PATH, EX_CONFIG, format_problem, load_config
from ..errors import ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate the configuration file",
        description="Validate the configuration file in full: exit 0 when it is valid, 78 (EX_CONFIG) "
        "with one line per problem when it is not.",
    )
    parser.add_argument(
        "-c",
        "--config",
        default=str(DEFAULT_CONFIG_PATH),
        metavar="FILE",
        help=f"configuration file (default: {DEFAULT_CONFIG_PATH})",
    )
    parser.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(format_problem(problem), file=sys.stderr)
        return EX_CONFIG
    for warning in config.warnings:
        print(f"config warning: {warning}", file=sys.stderr)
    print(f"config OK: {len(config.phones)} phones, {len(config.webhooks)} webhooks")
    return 0
