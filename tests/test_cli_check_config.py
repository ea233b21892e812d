"""``raspisms-daemon check-config``: exit 0 with a summary, or 78 with one line per problem, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from raspisms_daemon.cli import main
from tests.helpers.tls import make_pki

KEY = "k3y-0123456789abcdef-secret"
EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.ini"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.ini"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_valid_config_prints_the_summary_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        f"[daemon]\napi_key = {KEY}\n[webhook:a]\nurl = http://h/\n[webhook:b]\nurl = https://h/\n"
        "[phone:1]\ndevice = /dev/ttyUSB0\n",
    )
    assert main(["check-config", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "config OK: 1 phones, 2 webhooks\n"
    assert err == ""


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, f"[daemon]\napi_key = {KEY}\n", mode=0o644)
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == "config OK: 0 phones, 0 webhooks\n"
    assert err.startswith("config warning: ") and "readable by every user" in err and KEY not in err


def test_every_problem_is_one_line_on_stderr_and_exit_is_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        f"[daemon]\napi_key = {KEY}\nlog_level = loud\n[delivery]\njitter = 3\n[webhook:x]\nurl = ftp://h/\n",
    )
    assert main(["check-config", "-c", str(path)]) == 78
    out, err = capsys.readouterr()
    assert out == ""
    assert sorted(err.splitlines()) == [
        "config error: [daemon] log_level: 'loud' is not one of: debug, info, warning, error",
        "config error: [delivery] jitter: 3 is out of range: must be between 0 and 1",
        "config error: [webhook:x] url: scheme 'ftp' is not allowed: "
        "only http:// and https:// URLs are accepted",
    ]


def test_missing_file_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.ini"
    assert main(["check-config", "-c", str(missing)]) == 78
    assert (
        capsys.readouterr().err
        == f"config error: [{missing}]: cannot read the file: No such file or directory\n"
    )


def test_default_path_is_etc_raspisms_daemon() -> None:
    from raspisms_daemon.cli import build_parser

    args = build_parser().parse_args(["check-config"])
    assert args.config == "/etc/raspisms-daemon/config.ini"


@pytest.mark.parametrize(
    ("text", "status"),
    [("[daemon\n", 78), ("\x00\x01garbage", 78), (f"[daemon]\napi_key = {KEY}\n", 0), ("[x]\n[x]\n", 78)],
)
def test_the_real_command_never_prints_a_traceback(tmp_path: Path, text: str, status: int) -> None:
    path = write(tmp_path, text)
    proc = subprocess.run(
        [sys.executable, "-m", "raspisms_daemon", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    if status:
        assert proc.stderr and all(line.startswith("config error: ") for line in proc.stderr.splitlines())


def test_the_example_config_passes_check_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == "config OK: 0 phones, 0 webhooks\n"


def test_a_webhook_ca_file_is_loaded_by_openssl_and_a_bad_one_exits_78_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = make_pki(tmp_path / "ca")
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n")
    good = f"[daemon]\napi_key = {KEY}\n[webhook:ok]\nurl = https://h/\nca_file = ca/{pki.ca_cert.name}\n"
    assert main(["check-config", "-c", str(write(tmp_path, good))]) == 0
    bad = (
        f"[daemon]\napi_key = {KEY}\n"
        "[webhook:gone]\nurl = https://h/\nca_file = missing.pem\n"
        "[webhook:junk]\nurl = https://h/\nca_file = garbage.pem\n"
        "[webhook:dir]\nurl = https://h/\nca_file = ca\n"
    )
    capsys.readouterr()
    assert main(["check-config", "-c", str(write(tmp_path, bad))]) == 78
    assert sorted(capsys.readouterr().err.splitlines()) == [
        f"config error: [webhook:dir] ca_file: {tmp_path / 'ca'} is not a file",
        f"config error: [webhook:gone] ca_file: cannot read {tmp_path / 'missing.pem'}: "
        "No such file or directory",
        f"config error: [webhook:junk] ca_file: {tmp_path / 'garbage.pem'} holds no certificate OpenSSL "
        "can read (-----BEGIN CERTIFICATE-----): a malformed PEM block",
    ]
