"""``raspisms-daemon verify``: real bodies made by events.render, checked in-process and as a command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest

from raspisms_daemon.cli import main
from raspisms_daemon.commands.verify import verify_capture
from raspisms_daemon.webhooks import events
from raspisms_daemon.webhooks.signing import new_random_id, raspisms_signature, standard_headers

KEY = "0123456789abcdef0123456789abcdef"
TS = 1_700_000_000


def make(fmt: str = "form", key: str = KEY, ts: int = TS) -> tuple[bytes, dict[str, str]]:
    """A body exactly as the dispatcher sends it, with its Standard Webhooks headers."""
    body = events.receive_sms(
        id=12,
        at=datetime(2026, 1, 2, 3, 4, 5),
        origin="+33612345678",
        destination=1,
        text="Hello, wörld & co=1",
    )
    rid = new_random_id(ts)
    data, _ctype = events.render(
        fmt=fmt,
        timestamp=ts,
        random_id=rid,
        signature=raspisms_signature(key, rid),
        type="receive_sms",
        body_json=events.body_json(body),
    )
    return data, standard_headers(key, rid, ts + 42, data)


def run(
    argv: list[str], body: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
    status = main(["verify", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def header_args(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")]


@pytest.mark.parametrize("fmt", ["form", "json"])
def test_valid_body_and_headers(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, headers = make(fmt)
    status, out, _ = run(
        ["--api-key", KEY, "--format", fmt, *header_args(headers)], data, monkeypatch, capsys
    )
    assert (status, out) == (0, "valid: raspisms signature ok; standard-webhooks signature ok\n")


@pytest.mark.parametrize("fmt", ["form", "json"])
def test_format_is_detected_when_not_given(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = make(fmt)
    status, out, _ = run(["--api-key", KEY], data, monkeypatch, capsys)
    assert (status, out) == (0, "valid: raspisms signature ok; standard-webhooks headers not given\n")


def test_key_from_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY + "\n")
    data, headers = make()
    status, out, _ = run(["--api-key-file", str(keyfile), *header_args(headers)], data, monkeypatch, capsys)
    assert status == 0 and out.startswith("valid:")


def test_wrong_key_fails_both_signatures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, headers = make()
    status, out, _ = run(["--api-key", KEY[::-1], *header_args(headers)], data, monkeypatch, capsys)
    assert status == 1
    assert out.startswith("invalid: raspisms signature mismatch")
    assert "standard-webhooks: webhook-signature mismatch" in out


def test_tampered_body_fails_only_the_standard_signature(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, headers = make()
    fields = {k: v[0] for k, v in parse_qs(data.decode()).items()}
    fields["body"] = fields["body"].replace("Hello", "Hallo")
    tampered = urlencode(fields).encode()
    status, out, _ = run(["--api-key", KEY, *header_args(headers)], tampered, monkeypatch, capsys)
    assert status == 1
    assert out.splitlines() == [
        "invalid: standard-webhooks: webhook-signature mismatch "
        "(body, id or timestamp altered, or another key)",
        "  (raspisms signature ok)",
    ]
    # Without the headers the RaspiSMS signature alone cannot see the change: that is why we add them.
    status, out, _ = run(["--api-key", KEY], tampered, monkeypatch, capsys)
    assert status == 0


def test_tampered_random_id_fails_the_raspisms_signature() -> None:
    data, _ = make("json")
    obj = json.loads(data)
    obj["webhook_random_id"] = new_random_id(TS)
    verdict = verify_capture(json.dumps(obj).encode(), api_key=KEY)
    assert not verdict.valid and verdict.problems[0].startswith("raspisms signature mismatch")


@pytest.mark.parametrize(
    "field", ["webhook_timestamp", "webhook_type", "webhook_random_id", "webhook_signature", "body"]
)
def test_missing_field_is_named(
    field: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = make()
    fields = {k: v[0] for k, v in parse_qs(data.decode()).items()}
    del fields[field]
    status, out, _ = run(["--api-key", KEY], urlencode(fields).encode(), monkeypatch, capsys)
    assert status == 1 and f"missing field {field}" in out


def test_missing_standard_header_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, headers = make()
    del headers["webhook-timestamp"]
    status, out, _ = run(["--api-key", KEY, *header_args(headers)], data, monkeypatch, capsys)
    assert status == 1 and "standard-webhooks: missing header webhook-timestamp" in out


def test_tolerance_is_off_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, headers = make()  # signed in 2023: far outside any tolerance today
    status, _, _ = run(["--api-key", KEY, *header_args(headers)], data, monkeypatch, capsys)
    assert status == 0
    status, out, _ = run(
        ["--api-key", KEY, "--tolerance", "300", *header_args(headers)], data, monkeypatch, capsys
    )
    assert status == 1 and "webhook-timestamp too old" in out
    fresh, fresh_headers = make(ts=int(time.time()) - 42)
    status, _, _ = run(
        ["--api-key", KEY, "--tolerance", "300", *header_args(fresh_headers)], fresh, monkeypatch, capsys
    )
    assert status == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty body"),
        (b"{not json", "not JSON"),
        (b"[1,2]", "not an object"),
        (b"\xff\xfe", "not UTF-8"),
        (b"webhook_type=receive_sms&webhook_type=send_sms", "given more than once"),
    ],
)
def test_unreadable_bodies(
    body: bytes, fragment: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(["--api-key", KEY], body, monkeypatch, capsys)
    assert status == 1 and out.startswith("invalid: ") and fragment in out


def test_bad_header_syntax_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = make()
    status, _, err = run(["--api-key", KEY, "--header", "no colon here"], data, monkeypatch, capsys)
    assert status == 2 and "is not 'Name: value'" in err


def test_the_real_command_reads_stdin_and_never_prints_a_traceback() -> None:
    data, headers = make("json")
    cmd = [sys.executable, "-m", "raspisms_daemon", "verify", "--api-key", KEY, *header_args(headers)]
    ok = subprocess.run(cmd, input=data, capture_output=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == b"valid: raspisms signature ok; standard-webhooks signature ok\n"
    bad = subprocess.run(cmd, input=data + b"\n", capture_output=True, timeout=60, check=False)
    assert bad.returncode == 1 and b"Traceback" not in bad.stdout + bad.stderr
    assert b"webhook-signature mismatch" in bad.stdout
