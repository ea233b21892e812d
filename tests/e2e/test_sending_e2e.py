"""The sender and report matching, on a real simulator, a real AT backend and a real SQLite file."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from raspisms_daemon.config import Config
from raspisms_daemon.gsm.modem import ReportReceived
from raspisms_daemon.gsm.pdu import StatusReportPdu, SubmitPdu, decode, encode_status_report
from raspisms_daemon.simulator import Simulator
from raspisms_daemon.store import phones as phone_store
from raspisms_daemon.store import scheduled as scheduled_store
from raspisms_daemon.store.db import open_database
from tests.helpers.daemon_process import running_daemon


def _report(mr: int, number: str, status: int = 0) -> ReportReceived:
    when = datetime.now(UTC).replace(microsecond=0)
    hex_pdu = encode_status_report(mr, number, status=status, scts=when, discharge=when)
    rep = decode(hex_pdu)
    assert isinstance(rep, StatusReportPdu)
    return ReportReceived(index=None, storage="", pdu=hex_pdu, report=rep)


async def test_a_report_that_beats_the_senders_commit_is_applied_when_the_parts_are_recorded(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as env:
        d = env.daemon
        env.sims[0].set_reports("none")
        # the simulator's first TP-MR is 1; the network writes the number in national form
        await d.supervisors[1].handle(_report(1, "0698765432"))
        assert len(await d.db.fetchall("SELECT * FROM unmatched_report")) == 1
        await scheduled_store.create(d.db, text="x", numbers=["+33698765432"], now=time.time())
        d.wake_sender()
        (change,) = await env.wait_type("send_sms_status_change")
        (sent,) = env.of_type("send_sms")
        assert change.body == {"id": sent.body["id"], "status": "success"}
        assert await d.db.fetchall("SELECT * FROM unmatched_report") == []


async def test_a_report_for_another_number_with_the_same_mr_changes_nothing(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        d = env.daemon
        env.sims[0].set_reports("none")
        await scheduled_store.create(d.db, text="x", numbers=["+33698765432"], now=time.time())
        d.wake_sender()
        await env.wait_type("send_sms")
        await d.supervisors[1].handle(_report(1, "+33611111111", status=0x41))
        row = await d.db.fetchone("SELECT status FROM sended")
        assert row is not None and row["status"] == "unknown"
        await d.supervisors[1].handle(_report(1, "+33698765432", status=0x41))
        (change,) = await env.wait_type("send_sms_status_change")
        assert change.body["status"] == "failed"


async def test_a_row_left_sending_by_a_crash_ends_unknown_and_is_never_resent(tmp_path: Path) -> None:
    async def crashed_mid_send(sims: list[Simulator], config: Config) -> None:
        db = await open_database(config.daemon.database)
        sid = await scheduled_store.create(
            db, text="maybe sent", numbers=["+33698765432"], now=time.time()
        )
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sended (at, text, destination, id_phone, state, originating_scheduled, "
                "scheduled_number) "
                "SELECT ?, 'maybe sent', number, 1, 'sending', id_scheduled, id FROM scheduled_number",
                (time.time(),),
            )
        await db.close()
        assert sid == 1

    async with running_daemon(tmp_path, before_start=crashed_mid_send) as env:
        (sent,) = await env.wait_type("send_sms")
        assert sent.body["status"] == "unknown" and sent.body["text"] == "maybe sent"
        row = await env.daemon.db.fetchone("SELECT state, status, error FROM sended")
        assert row is not None and (row["state"], row["status"]) == ("sent", "unknown")
        assert "interrupted" in row["error"]
        sch = await env.daemon.db.fetchone("SELECT state FROM scheduled")
        assert sch is not None and sch["state"] == "done"
        env.daemon.wake_sender()
        assert env.sims[0].state()["sent"] == []


async def test_an_sms_for_an_unknown_phone_fails_with_a_reason(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        d = env.daemon
        async with d.db.transaction() as conn:  # a phone removed from the config keeps its row
            await phone_store.upsert(conn, id=7, name="gone", backend="at", device="/dev/x", enabled=True)
        await scheduled_store.create(d.db, text="x", numbers=["+33698765432"], now=time.time(), id_phone=7)
        d.wake_sender()
        (sent,) = await env.wait_type("send_sms")
        assert sent.body["status"] == "failed" and sent.body["origin"] == 7
        row = await d.db.fetchone("SELECT error FROM sended")
        assert row is not None and "not configured" in row["error"]


async def test_an_sms_scheduled_for_later_leaves_at_its_time_not_before(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        d = env.daemon
        at = time.time() + 1.5
        await scheduled_store.create(
            d.db, text="later", numbers=["+33698765432"], now=time.time(), at=at, flash=True
        )
        d.wake_sender()
        await asyncio.sleep(0.8)
        assert env.sims[0].state()["sent"] == []
        (sent,) = await env.wait_type("send_sms", within=10)
        assert time.time() >= at and sent.body["text"] == "later"
        pdu = decode(env.sims[0].state()["sent"][0]["pdu"])
        assert isinstance(pdu, SubmitPdu) and pdu.flash and pdu.status_report_request


def _hook_after_first_accepted_part(sim: Simulator, fault: str) -> None:
    """Inject ``fault`` into the simulator right after it accepted the first part, and only then.

    The hook sits on the simulator's submit handler because nothing public fires between two parts of
    one send: injecting the fault from outside would race the second ``AT+CMGS``."""
    accept = sim._accept_submit
    fired = False

    async def accept_then_fault(pdu_hex: str, expected: int) -> str:
        nonlocal fired
        reply = await accept(pdu_hex, expected)
        if not fired and "+CMGS:" in reply:
            fired = True
            await sim.fault(fault)
        return reply

    sim._accept_submit = accept_then_fault  # type: ignore[method-assign]  # a test hook on one instance


async def test_a_transient_error_on_a_later_part_retries_that_part_only_never_resending_the_first(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as env:
        assert env.daemon.sender is not None
        env.daemon.sender.retry_delays = (0.05, 0.05, 0.05)
        sim = env.sims[0]
        _hook_after_first_accepted_part(sim, "sms_error")  # part 2's first AT+CMGS: +CMS ERROR: 38
        await scheduled_store.create(
            env.daemon.db, text="p" * 200, numbers=["+33698765432"], now=time.time()
        )
        env.daemon.wake_sender()
        (sent,) = await env.wait_type("send_sms")
        assert sent.body["status"] == "unknown" and sent.body["text"] == "p" * 200
        seqs = []
        for submit in sim.state()["sent"]:
            pdu = decode(submit["pdu"])
            assert isinstance(pdu, SubmitPdu) and pdu.concat is not None
            seqs.append(pdu.concat.seq)
        assert seqs == [1, 2]  # part 1 left once, part 2 was retried
        row = await env.daemon.db.fetchone("SELECT state, attempts FROM sended")
        assert row is not None and (row["state"], row["attempts"]) == ("sent", 2)
        parts = await env.daemon.db.fetchall("SELECT seq, mr FROM sended_part ORDER BY seq")
        mrs = [submit["mr"] for submit in sim.state()["sent"]]
        assert [(r["seq"], r["mr"]) for r in parts] == [(1, mrs[0]), (2, mrs[1])]
