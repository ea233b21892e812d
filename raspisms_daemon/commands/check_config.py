"""``raspisms-daemon check-config``: validate the config file the way ``run`` does, without starting."""

from __future__ import annotations

import argparse
import sys

from ..config import EX_CONFIG, load_config
from ..errors import ConfigError
from ._common import add_config_argument, print_config_problems

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate the configuration file",
        description="Validate the configuration file in full: exit 0 when it is valid, 78 (EX_CONFIG) "
        "with one line per problem when it is not.",
    )
    add_config_argument(parser)
    parser.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print_config_problems(exc)
        return EX_CONFIG
    for warning in config.warnings:
        print(f"config warning: {warning}", file=sys.stderr)
    print(f"config OK: {len(config.phones)} phones, {len(config.webhooks)} webhooks")
    return 0
