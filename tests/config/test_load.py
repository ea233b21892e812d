"""Loading: the file and key file read from disk, permission warnings, and exit 78 naming section and key."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from raspisms_daemon.config import load_config, load_config_or_exit, parse_config
from raspisms_daemon.config.load import LocalHost
from raspisms_daemon.errors import ConfigError
from tests.helpers.machine import import_or_skip

from ._support import BASE, KEY, one


def test_load_config_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.ini")
    (problem,) = info.value.problems
    assert problem.section == str(tmp_path / "missing.ini") and "cannot read" in problem.message
    with pytest.raises(ConfigError):
        load_config(tmp_path)  # a directory
    binary = tmp_path / "bin.ini"
    binary.write_bytes(b"\xff\xfe[daemon]")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_load_config_or_exit_prints_problems_and_exits_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.ini"
    path.write_text("[daemon]\napi_key = short\n[api]\nlisten = x\n")
    with pytest.raises(SystemExit) as info:
        load_config_or_exit(path)
    assert info.value.code == 78
    err = capsys.readouterr().err.splitlines()
    assert sorted(err) == [
        "config error: [api] listen: 'x' is not HOST:PORT, [IPV6]:PORT or unix:/path",
        "config error: [daemon] api_key: the API key is too short: at least 16 characters",
    ]
    path.write_text(BASE)
    assert load_config_or_exit(path).daemon.api_key == KEY


# --- the API key file, read from disk ---------------------------------------------------------------


def test_api_key_file_is_read_stripped_and_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    keyfile = tmp_path / "secret" / "key"
    keyfile.write_text(f"\n  {KEY}  \n")
    keyfile.chmod(0o600)
    config = parse_config("[daemon]\napi_key_file = secret/key\n", path=tmp_path / "config.ini")
    assert config.daemon.api_key == KEY
    assert config.warnings == ()


def test_api_key_file_missing_empty_short_or_a_directory_is_reported(tmp_path: Path) -> None:
    host = LocalHost()
    missing = one(f"[daemon]\napi_key_file = {tmp_path / 'nope'}\n", host=host)
    assert (
        missing.key == "api_key_file"
        and "cannot read" in missing.message
        and "No such file" in missing.message
    )
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    assert "empty" in one(f"[daemon]\napi_key_file = {empty}\n", host=host).message
    short = tmp_path / "short"
    short.write_text("abc-secret")
    problem = one(f"[daemon]\napi_key_file = {short}\n", host=host)
    assert "too short" in problem.message and "abc-secret" not in str(problem)
    assert "cannot read" in one(f"[daemon]\napi_key_file = {tmp_path}\n", host=host).message  # a directory


def test_unreadable_api_key_file(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY)
    keyfile.chmod(0)
    text = f"[daemon]\napi_key_file = {keyfile}\n"
    if os.geteuid() != 0:
        message = one(text, host=LocalHost()).message
    else:
        # Root reads any file: ask as nobody, in a forked child that has the code loaded already.
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                os.write(write_end, one(text, host=LocalHost()).message.encode())
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read().decode()
    assert "Permission denied" in message


def test_api_key_file_that_is_not_a_key_file(tmp_path: Path) -> None:
    host = LocalHost()
    big = tmp_path / "big"
    big.write_bytes(b"a" * 5000)
    problem = one(f"[daemon]\napi_key_file = {big}\n", host=host)
    assert problem.key == "api_key_file" and "is not a key file" in problem.message
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff" * 20)
    assert "is not a key file" in one(f"[daemon]\napi_key_file = {binary}\n", host=host).message
    assert "is not a key file" in one("[daemon]\napi_key_file = /dev/zero\n", host=host).message


# --- permissions --------------------------------------------------------------------------------------


def test_world_readable_config_holding_the_key_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(BASE)
    path.chmod(0o644)
    config = load_config(path)
    assert len(config.warnings) == 1 and "readable by every user" in config.warnings[0]
    assert KEY not in config.warnings[0]
    path.chmod(0o640)
    assert load_config(path).warnings == ()


def test_world_readable_key_file_is_a_warning(tmp_path: Path) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY)
    keyfile.chmod(0o644)
    path = tmp_path / "config.ini"
    path.write_text(f"[daemon]\napi_key_file = {keyfile}\n")
    path.chmod(0o644)  # holds no key: no warning about it
    (warning,) = load_config(path).warnings
    assert str(keyfile) in warning and "chmod 600" in warning


def test_a_file_that_cannot_be_looked_at_is_not_world_readable(tmp_path: Path) -> None:
    assert LocalHost().world_readable(tmp_path / "nope") is False


# --- python-gammu -----------------------------------------------------------------------------------

GAMMU_PHONE = BASE + "[phone:1]\nbackend = gammu\ndevice = /dev/x\n"


def test_gammu_backend_is_accepted_where_python_gammu_is_installed() -> None:
    import_or_skip("gammu", "python-gammu", "python3-gammu")
    assert parse_config(GAMMU_PHONE).phones[0].backend == "gammu"


def test_gammu_backend_needs_python_gammu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gammu", None)  # how Python spells "this module cannot be imported"
    with pytest.raises(ConfigError) as info:
        parse_config(GAMMU_PHONE)
    (problem,) = info.value.problems
    assert (problem.section, problem.key) == ("phone:1", "backend")
    assert problem.message == "backend = gammu needs python-gammu (pip install raspisms-daemon[gammu])"
