"""What the config tests share: a key, the smallest valid config, and a fake Host for pure parsing."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from raspisms_daemon.config import Config, Host, parse_ini
from raspisms_daemon.errors import ConfigError, Problem

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "config.example.ini"
KEY = "k3y-0123456789abcdef-secret"
BASE = f"[daemon]\napi_key = {KEY}\n"


@dataclass
class FakeHost:
    """A machine with only ``files`` on it, some readable by every user, python-gammu or not."""

    files: dict[Path, bytes] = field(default_factory=dict)
    readable_by_all: set[Path] = field(default_factory=set)
    gammu: bool = True
    reads: list[Path] = field(default_factory=list)

    def read_head(self, path: Path, limit: int) -> bytes:
        self.reads.append(path)
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        return self.files[path][:limit]

    def world_readable(self, path: Path) -> bool:
        return path in self.readable_by_all

    def can_import(self, module: str) -> bool:
        return module == "gammu" and self.gammu

    def ca_file_problem(self, path: Path) -> str | None:
        """The real check loads the file with OpenSSL (tests/webhooks/test_tls.py); here: a PEM header."""
        self.reads.append(path)
        if path not in self.files:
            return f"cannot read {path}: {os.strerror(errno.ENOENT)}"
        if b"-----BEGIN CERTIFICATE-----" not in self.files[path]:
            return f"{path} holds no certificate OpenSSL can read"
        return None


def parse(text: str, *, path: Path | None = None, host: Host | None = None) -> Config:
    """``parse_ini`` on a machine with no files unless ``host`` says otherwise."""
    return parse_ini(text, path=path, host=host or FakeHost())


def problems(text: str, *, path: Path | None = None, host: Host | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse(text, path=path, host=host)
    assert info.value.problems, "a ConfigError must carry at least one problem"
    return info.value.problems


def where(text: str) -> set[tuple[str, str | None]]:
    return {(p.section, p.key) for p in problems(text)}


def one(text: str, *, path: Path | None = None, host: Host | None = None) -> Problem:
    found = problems(text, path=path, host=host)
    assert len(found) == 1, found
    return found[0]
