"""The ``raspisms-daemon`` command line.

Each command group lives in its own module under :mod:`raspisms_daemon.commands` and exposes
``register(subparsers)``; this module only collects them, so adding a command touches one file.

Only the module of the command being run is imported (``check-config`` is ``commands/check_config.py``):
on a Raspberry Pi every import costs, and ``--version`` or ``send`` must not pay for the daemon, the
simulator or the HTTP server. Every module is imported only to list them all (``--help``, no command, a
command that does not exist).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence

from . import __version__, commands

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse asks for a help formatter at every ``add_argument``, and the formatter imports
    :mod:`shutil` (with its compression modules) for the terminal width: a cost every command paid on
    start. The width is read here with :func:`os.get_terminal_size`, as shutil does."""

    def _get_formatter(self) -> argparse.HelpFormatter:
        make: Callable[..., argparse.HelpFormatter] = self.formatter_class  # every one takes width
        return make(prog=self.prog, width=_terminal_width() - 2)


def _terminal_width() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 80
    except (AttributeError, ValueError, OSError):
        return 80


def _command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))


def _wanted(argv: Sequence[str], modules: list[str]) -> list[str]:
    """The command module ``argv`` runs (its first word that is not an option), or every module."""
    for arg in argv:
        if arg == "--":
            break
        if not arg.startswith("-"):
            name = arg.replace("-", "_")
            return [name] if name in modules else modules
        if arg in ("-h", "--help"):
            break
    return modules


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only its command's module registered when ``argv`` names one,
    with every command otherwise."""
    parser = _Parser(
        prog="raspisms-daemon",
        description="SMS gateway daemon for GSM modems, delivering signed RaspiSMS webhooks.",
    )
    parser.add_argument("--version", action="version", version=f"raspisms-daemon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    modules = _command_modules()
    if argv is not None:
        modules = _wanted(argv, modules)
    for name in modules:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--version":
        # Before argparse is even built: the cheapest command there is.
        print(f"raspisms-daemon {__version__}")
        return 0
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
