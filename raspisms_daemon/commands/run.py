"""``raspisms-daemon run -c FILE``: the daemon itself (what the systemd unit starts)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from ..config import EX_CONFIG, Config, load_config_or_exit
from ..errors import RaspismsError
from ..logs import setup_logging
from ..store.faults import StorageFault, classify
from ._common import add_config_argument

__all__ = ["register", "run_daemon"]

log = logging.getLogger("raspisms_daemon")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon",
        description="Run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads the "
        "configuration. Exits 78 (EX_CONFIG) when the configuration is invalid or the database cannot "
        "be used as it is (corrupt, foreign, zero-length, missing, unreadable, in use by another daemon), "
        "so systemd does not restart-loop on it; 75 after writing back a database file deleted while in "
        "use (restart to go on).",
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
    """Run until SIGTERM/SIGINT; the exit status: 0 after a clean stop, 78 when the database cannot be
    used as it is, 75 after a deleted database was written back, 1 when a part of the daemon failed."""
    from ..daemon import Daemon

    daemon = Daemon(config)
    loop = asyncio.get_running_loop()
    handlers = {signal.SIGTERM: daemon.request_stop, signal.SIGINT: daemon.request_stop}
    # Before anything runs: SIGHUP's default action would end the process.
    handlers[signal.SIGHUP] = daemon.request_reload
    for sig, handler in handlers.items():
        loop.add_signal_handler(sig, handler)
    try:
        await daemon.run()
    except Exception as exc:
        faults: list[StorageFault] = []
        for error in _leaves(exc):
            fault = classify(error, config.daemon.database)
            if fault is not None:
                # The database file (corrupt, unreadable …): a clear line naming it, no traceback.
                faults.append(fault)
                log.error("cannot run: %s", fault)
            elif isinstance(error, RaspismsError | OSError):
                # An expected failure (busy port, bad database): a clear line, no traceback.
                log.error("cannot run: %s", error)
            else:
                log.error("the daemon failed", exc_info=error)
        return EX_CONFIG if any(f.fatal for f in faults) else 1
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)
    return daemon.exit_code


def _leaves(exc: BaseException) -> list[BaseException]:
    """The actual errors inside (nested) exception groups from the daemon's TaskGroup."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]
