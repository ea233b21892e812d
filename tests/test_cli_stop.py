"""``raspisms-daemon stop list|add|remove``: the SMS STOP list in a real database file."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from raspisms_daemon.commands import stop, webhooks
from raspisms_daemon.store import scheduled, smsstop
from raspisms_daemon.store.db import open_database


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="raspisms-daemon")
    sub = parser.add_subparsers(dest="command", required=True)
    stop.register(sub)
    webhooks.register(sub)
    args = parser.parse_args(list(argv))
    status = int(args.func(args))
    out, err = capsys.readouterr()
    return status, out, err


async def _skip_one(path: Path, number: str) -> None:
    db = await open_database(path)
    try:
        sid = await scheduled.create(db, text="x", numbers=[number], now=1.0)
        async with db.transaction() as conn:
            (dest,) = await scheduled.unsent_numbers(db, sid)
            await scheduled.skip(conn, dest.id, reason=smsstop.SKIPPED_STOP, at=2.0)
    finally:
        await db.close()


def test_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "d.sqlite3")
    assert run(capsys, "stop", "list", "--database", db)[1] == "the SMS STOP list is empty\n"
    status, out, _ = run(capsys, "stop", "add", "--database", db, "+33612345678")
    assert status == 0 and "added" in out
    assert "already" in run(capsys, "stop", "add", "--database", db, "+33612345678")[1]
    asyncio.run(_skip_one(tmp_path / "d.sqlite3", "+33612345678"))
    status, out, _ = run(capsys, "stop", "list", "--database", db)
    header, row = out.splitlines()
    assert header.split() == ["NUMBER", "SINCE", "FROM", "SKIPPED", "LAST", "SKIPPED"]
    assert row.startswith("+33612345678") and "by hand" in row and " 1 " in row
    status, out, _ = run(capsys, "stop", "list", "--database", db, "--json")
    (entry,) = json.loads(out)
    assert (entry["number"], entry["id_phone"], entry["skipped"], entry["last_skipped_at"]) == (
        "+33612345678",
        None,
        1,
        2.0,
    )
    status, out, _ = run(capsys, "stop", "remove", "--database", db, "+33612345678")
    assert status == 0 and "can be sent to again" in out
    status, out, _ = run(capsys, "stop", "remove", "--database", db, "+33612345678")
    assert status == 1 and "not on the SMS STOP list" in out


def test_webhooks_add_takes_a_flavor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "d.sqlite3")
    status, out, _ = run(
        capsys, "webhooks", "add", "--database", db, "php", "http://127.0.0.1:1/", "--flavor", "raspisms"
    )
    assert status == 0 and "raspisms" in out
    _, out, _ = run(capsys, "webhooks", "list", "--database", db, "--json")
    assert [h["flavor"] for h in json.loads(out)] == ["raspisms"]
