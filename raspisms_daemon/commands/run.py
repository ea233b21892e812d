"""``raspisms-daemon run -c FILE``: the daemon itself (what the systemd unit starts)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from ..config import Config, load_config_or_exit
from ..errors import RaspismsError
from ..logs import setup_logging
from ._common import add_config_argument

__all__ = ["register", "run_daemon"]

log = logging.getLogger("raspisms_daemon")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon",
        description="Run the daemon in the foreground until SIGTERM/SIGINT. Exits 78 (EX_CONFIG) when the "
        "configuration is invalid, so systemd does not restart-loop on it.",
    )
    add_config_argument(parser)
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    config = load_config_or_exit(args.config)
    setup_logging(config.daemon.log_level)
    for warning in config.warnings:
        log.warning("config: %s", warning)
    return asyncio.run(run_daemon(config))


async def run_daemon(config: Config) -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean stop, 1 when a part of the daemon failed."""
    from ..daemon import Daemon

    daemon = Daemon(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    try:
        await daemon.run()
    except Exception as exc:
        for error in _leaves(exc):
            if isinstance(error, RaspismsError | OSError):
                log.error(
                    "cannot run: %s", error
                )  # an expected failure (busy port, bad database): no traceback
            else:
                log.error("the daemon failed", exc_info=error)
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


def _leaves(exc: BaseException) -> list[BaseException]:
    """The actual errors inside (nested) exception groups from the daemon's TaskGroup."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]
