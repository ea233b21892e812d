"""Loading the config file: the reads and permission checks the INI validation asks for, and the exit.

A command that cannot run without a valid config calls :func:`load_config_or_exit`: one line per
problem on stderr and exit 78 (EX_CONFIG), which the systemd unit does not restart-loop on.
"""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path

from ..errors import ConfigError, Problem
from ..webhooks.tls import ca_file_problem
from .ini import parse_ini
from .schema import Config

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EX_CONFIG",
    "LocalHost",
    "format_problem",
    "load_config",
    "load_config_or_exit",
    "parse_config",
]

EX_CONFIG = 78  # sysexits.h: configuration error; systemd does not restart-loop on it (see unit file)
DEFAULT_CONFIG_PATH = Path("/etc/raspisms-daemon/config.ini")


class LocalHost:
    """The machine this process runs on, as the INI validation sees it (:class:`~.ini.Host`)."""

    def read_head(self, path: Path, limit: int) -> bytes:
        with path.open("rb") as fh:
            return fh.read(limit)

    def world_readable(self, path: Path) -> bool:
        try:
            return bool(path.stat().st_mode & stat.S_IROTH)
        except OSError:
            return False

    def can_import(self, module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    def ca_file_problem(self, path: Path) -> str | None:
        return ca_file_problem(path)


def parse_config(text: str, *, path: Path | None = None) -> Config:
    """Validate the INI ``text`` in full, reading the key file it names; raise ConfigError listing
    every problem. ``path`` is the file the text came from (see :func:`~.ini.parse_ini`)."""
    return parse_ini(text, path=path, host=LocalHost())


def load_config(path: Path | str) -> Config:
    """Read and validate the config file; an unreadable file is a ConfigError too."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(file), None, "the file is not UTF-8 text")]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(file), None, f"cannot read the file: {exc.strerror or exc}")]) from exc
    return parse_config(text, path=file)


def format_problem(problem: Problem) -> str:
    """``config error: [section] key: message`` (the line check-config and run print)."""
    return f"config error: {problem}"


def load_config_or_exit(path: Path | str) -> Config:
    """load_config, or print one line per problem on stderr and exit 78 (EX_CONFIG).

    Warnings are not printed here: the caller logs ``config.warnings`` its own way.
    """
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(format_problem(problem), file=sys.stderr)
        sys.exit(EX_CONFIG)
