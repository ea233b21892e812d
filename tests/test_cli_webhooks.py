"""``raspisms-daemon webhooks …`` and ``deliveries …``: real database files, real argument parsing.

The parser is assembled from the two command modules exactly as ``cli.build_parser`` does (their
``register``), so these tests exercise only these commands; ``test_cli_entry_point_*`` runs the
installed entry point in a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from raspisms_daemon.commands import deliveries, webhooks
from raspisms_daemon.store import outbox
from raspisms_daemon.store.db import open_database
from tests.helpers.dispatch_process import seed_events
from tests.helpers.tls import make_pki

API_KEY = "cli-test-api-key-0123"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="raspisms-daemon")
    sub = parser.add_subparsers(dest="command", required=True)
    webhooks.register(sub)
    deliveries.register(sub)
    args = parser.parse_args(list(argv))
    status = int(args.func(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def dbpath(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite3"


def test_add_then_list_shows_the_webhook_in_text_and_json(
    capsys: pytest.CaptureFixture[str], dbpath: Path
) -> None:
    db = ["--database", str(dbpath)]
    assert (
        run(
            capsys,
            "webhooks",
            "add",
            *db,
            "ha",
            "http://127.0.0.1:8123/api/webhook/x",
            "--types",
            "receive_sms,inbound_call",
            "--format",
            "json",
        )[0]
        == 0
    )
    status, out, _ = run(capsys, "webhooks", "list", *db)
    assert (
        status == 0
        and "ha" in out
        and "inbound_call,receive_sms" not in out
        and "receive_sms,inbound_call" in out
    )
    status, out, _ = run(capsys, "webhooks", "list", *db, "--json")
    [hook] = json.loads(out)
    assert (hook["name"], hook["format"], hook["enabled"], hook["source"]) == ("ha", "json", True, "api")
    assert sorted(hook["types"]) == ["inbound_call", "receive_sms"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["webhooks", "add", "x", "ftp://example.org/"], "only http:// and https://"),
        (
            ["webhooks", "add", "x", "http://127.0.0.1/", "--types", "receive_sms,bogus"],
            "unknown webhook type",
        ),
        (["webhooks", "remove", "nope"], "no webhook named 'nope'"),
        (["webhooks", "enable", "nope"], "no webhook named 'nope'"),
        (["webhooks", "disable", "nope"], "no webhook named 'nope'"),
        (["deliveries", "show", "42"], "no delivery with id 42"),
        (["deliveries", "replay", "42"], "no delivery with id 42"),
        (["deliveries", "list", "--webhook", "nope"], "no webhook named 'nope'"),
    ],
)
def test_clear_errors_exit_1_without_traceback(
    capsys: pytest.CaptureFixture[str], dbpath: Path, argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, *argv[:2], "--database", str(dbpath), *argv[2:])
    assert status == 1
    assert message in err and err.startswith("error: ") and "Traceback" not in err + out


def test_disable_and_enable_change_the_listed_state(capsys: pytest.CaptureFixture[str], dbpath: Path) -> None:
    db = ["--database", str(dbpath)]
    run(capsys, "webhooks", "add", *db, "a", "https://example.org/")
    assert run(capsys, "webhooks", "disable", *db, "a")[0] == 0
    [hook] = json.loads(run(capsys, "webhooks", "list", *db, "--json")[1])
    assert (hook["enabled"], hook["disabled_reason"]) == (False, "disabled by the user")
    assert run(capsys, "webhooks", "enable", *db, "a")[0] == 0
    [hook] = json.loads(run(capsys, "webhooks", "list", *db, "--json")[1])
    assert hook["enabled"] is True
    status, out, _ = run(capsys, "webhooks", "remove", *db, "a")
    assert status == 0 and "removed" in out
    assert json.loads(run(capsys, "webhooks", "list", *db, "--json")[1]) == []


async def _seed(dbpath: Path) -> None:
    db = await open_database(dbpath)
    async with db.transaction() as conn:
        from raspisms_daemon.store import webhooks as wh

        await wh.add_webhook(conn, "a", "http://127.0.0.1:1/a", now=0.0)
        await wh.add_webhook(conn, "b", "http://127.0.0.1:1/b", now=0.0)
    await seed_events(db, API_KEY, 2)  # ids 1..4: a, b, a, b
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET state = 'dead', attempts = 10, last_error = 'HTTP 500' WHERE id = 1"
        )
        await conn.execute(
            "INSERT INTO delivery_attempt (outbox_id, at, status, error, duration_ms, local) "
            "VALUES (1, 1767000000, 500, NULL, 12.5, 0), (1, 1767000005, NULL, 'timeout', 15000, 0), "
            "(2, 1767000009, NULL, 'ClientConnectorError: [Too many open files]', 0.3, 1)"
        )
    await db.close()


@pytest.fixture
def seeded(dbpath: Path) -> Path:
    asyncio.run(_seed(dbpath))  # the commands run their own event loop: these tests are synchronous
    return dbpath


def test_deliveries_list_filters_and_show_includes_attempts(
    capsys: pytest.CaptureFixture[str], seeded: Path
) -> None:
    db = ["--database", str(seeded)]
    items = json.loads(run(capsys, "deliveries", "list", *db, "--json")[1])
    assert [d["id"] for d in items] == [4, 3, 2, 1]
    items = json.loads(run(capsys, "deliveries", "list", *db, "--state", "dead", "--json")[1])
    assert [(d["id"], d["state"]) for d in items] == [(1, "dead")]
    items = json.loads(run(capsys, "deliveries", "list", *db, "--webhook", "b", "--limit", "1", "--json")[1])
    assert [d["id"] for d in items] == [4]
    status, out, _ = run(capsys, "deliveries", "list", *db)
    assert status == 0 and "dead" in out and "pending" in out

    shown = json.loads(run(capsys, "deliveries", "show", *db, "1", "--json")[1])
    assert shown["state"] == "dead" and shown["body"]["text"] == "message 1"
    assert [(a["status"], a["error"]) for a in shown["attempts_log"]] == [(500, None), (None, "timeout")]
    status, out, _ = run(capsys, "deliveries", "show", *db, "1")
    assert status == 0 and "timeout" in out and shown["random_id"] in out
    # An attempt that failed on this machine is marked, and was not counted.
    shown = json.loads(run(capsys, "deliveries", "show", *db, "2", "--json")[1])
    assert [(a["error"], a["local"]) for a in shown["attempts_log"]] == [
        ("ClientConnectorError: [Too many open files]", True)
    ]
    status, out, _ = run(capsys, "deliveries", "show", *db, "2")
    [line] = [line for line in out.splitlines() if "Too many open files" in line]
    assert status == 0 and line.split()[2] == "local" and "after 0 attempts" in out


def test_replay_makes_a_dead_delivery_pending_with_the_same_random_id(
    capsys: pytest.CaptureFixture[str], seeded: Path
) -> None:
    db = ["--database", str(seeded)]
    before = json.loads(run(capsys, "deliveries", "show", *db, "1", "--json")[1])
    status, out, _ = run(capsys, "deliveries", "replay", *db, "1")
    assert status == 0 and before["random_id"] in out
    after = json.loads(run(capsys, "deliveries", "show", *db, "1", "--json")[1])
    assert (after["state"], after["attempts"], after["random_id"]) == ("pending", 0, before["random_id"])

    async def state() -> outbox.DeliveryState:
        database = await open_database(seeded)
        try:
            return (await outbox.get_delivery(database.conn, 1)).state
        finally:
            await database.close()

    assert asyncio.run(state()) is outbox.DeliveryState.PENDING


def test_the_database_comes_from_the_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.ini"
    config.write_text(f"[daemon]\ndatabase = {tmp_path / 'from-config.sqlite3'}\napi_key = {API_KEY}\n")
    config.chmod(0o600)
    assert run(capsys, "webhooks", "add", "-c", str(config), "x", "http://127.0.0.1/")[0] == 0
    assert (tmp_path / "from-config.sqlite3").exists()
    [hook] = json.loads(run(capsys, "webhooks", "list", "--config", str(config), "--json")[1])
    assert hook["name"] == "x"


def test_a_bad_config_file_exits_78_naming_the_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "webhooks", "list", "-c", str(tmp_path / "missing.ini"))
    assert status == 78 and "cannot read the file" in err and "Traceback" not in err


def test_a_non_numeric_delivery_id_is_a_usage_error(capsys: pytest.CaptureFixture[str], dbpath: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run(capsys, "deliveries", "replay", "--database", str(dbpath), "abc")
    assert exc.value.code == 2
    assert "a delivery id is a number" in capsys.readouterr().err


def test_cli_entry_point_runs_the_webhooks_command(dbpath: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "raspisms_daemon",
            "webhooks",
            "add",
            "--database",
            str(dbpath),
            "x",
            "gopher://h/",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "only http:// and https://" in proc.stderr and "Traceback" not in proc.stderr


def test_add_with_a_ca_file_or_no_verify_and_list_shows_whom_each_trusts(
    capsys: pytest.CaptureFixture[str], dbpath: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ["--database", str(dbpath)]
    pki = make_pki(tmp_path / "pki")
    monkeypatch.chdir(tmp_path)  # a relative --ca-file is stored absolute
    add = ["webhooks", "add", *db]
    status, out, err = run(capsys, *add, "private", "https://10.0.0.2/", "--ca-file", "pki/test-ca.pem")
    assert status == 0 and f"TLS: ca_file {pki.ca_cert}" in out and err == ""
    status, out, err = run(capsys, "webhooks", "add", *db, "insecure", "https://10.0.0.3/", "--no-verify")
    assert status == 0 and "TLS: NOT VERIFIED" in out and err.startswith("warning: ")
    assert run(capsys, "webhooks", "add", *db, "plain", "https://10.0.0.4/")[0] == 0
    status, out, err = run(capsys, "webhooks", "list", *db)
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert f"ca_file {pki.ca_cert}" in lines["private"]
    assert "NOT VERIFIED" in lines["insecure"] and "system CAs" in lines["plain"]
    assert err == (
        "warning: webhook 'insecure' does not check its receiver's certificate (verify = no): anyone on "
        "the way can read and forge its deliveries\n"
    )
    listed = json.loads(run(capsys, "webhooks", "list", *db, "--json")[1])
    hooks = {h["name"]: (h["ca_file"], h["verify"]) for h in listed}
    assert hooks == {"insecure": (None, False), "plain": (None, True), "private": (str(pki.ca_cert), True)}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["https://h/", "--ca-file", "/nonexistent/ca.pem"], "--ca-file: cannot read /nonexistent/ca.pem"),
        (["http://h/", "--ca-file", "/nonexistent/ca.pem"], "ca_file is for https:// URLs only"),
        (["http://h/", "--no-verify"], "verify = no is for https:// URLs only"),
    ],
)
def test_a_ca_file_or_no_verify_that_cannot_work_is_refused(
    capsys: pytest.CaptureFixture[str], dbpath: Path, extra: list[str], message: str
) -> None:
    status, out, err = run(capsys, "webhooks", "add", "--database", str(dbpath), "x", *extra)
    assert status == 1 and message in err and "Traceback" not in err + out
    assert run(capsys, "webhooks", "list", "--database", str(dbpath))[1] == "no webhooks\n"


def test_ca_file_and_no_verify_together_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], dbpath: Path
) -> None:
    add = ["webhooks", "add", "--database", str(dbpath), "x", "https://h/"]
    with pytest.raises(SystemExit) as info:
        run(capsys, *add, "--ca-file", "/c", "--no-verify")
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
