"""``raspisms-daemon run -c FILE``: the daemon itself (what the systemd unit starts)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..config import EX_CONFIG, Config, load_config_or_exit
from ..errors import RaspismsError
from ..logs import setup_logging
from ..store.faults import StorageFault, classify
from ._common import add_config_argument

if TYPE_CHECKING:
    from ..daemon import Daemon

__all__ = ["load_daemon", "register", "run_daemon"]

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
    daemon = load_daemon()(config)
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


# Read once, when aiohttp is first imported. aiohttp builds two TLS contexts at import, each parsing the
# system's CA bundle (about 60 ms of CPU and 2 MB here); the daemon never uses them (webhooks/tls.py makes
# every https delivery's context), so OpenSSL's default CA *file* is /dev/null meanwhile. frozenlist (the
# app's signal lists, frozen at start) in pure Python spares loading libstdc++ for its C++ extension.
_LEAN_IMPORT_ENV = {"SSL_CERT_FILE": os.devnull, "FROZENLIST_NO_EXTENSIONS": "1"}


def load_daemon() -> type[Daemon]:
    """The daemon's class, its imports (aiohttp first) made without the work it does not need."""
    with _environment(_LEAN_IMPORT_ENV):
        from ..daemon import Daemon
    return Daemon


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment for the block, the previous ones (or none) back afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _leaves(exc: BaseException) -> list[BaseException]:
    """The actual errors inside (nested) exception groups from the daemon's TaskGroup."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]
