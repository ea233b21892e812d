"""The phone supervisor's take-in rules, on a real simulator, a real AT backend and a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from raspisms_daemon.clock import ManualClock
from raspisms_daemon.config import Config, PhoneConfig
from raspisms_daemon.gsm.modem import SmsReceived, UndecodableSms
from raspisms_daemon.gsm.pdu import DeliverPdu, decode, encode_deliver
from raspisms_daemon.phones.context import PhoneContext
from raspisms_daemon.phones.jobs import flush_expired_multiparts
from raspisms_daemon.phones.supervisor import PhoneSupervisor, deliver_multipart
from raspisms_daemon.simulator import Simulator
from raspisms_daemon.store import messages
from raspisms_daemon.store.db import open_database
from raspisms_daemon.store.webhooks import add_webhook
from tests.helpers.daemon_process import API_KEY, poll_until, running_daemon
from tests.helpers.simulator import simulated_modem

_wait = poll_until


class NoBackend:
    """A backend for events handed over directly (+CMT): nothing to delete, never started."""

    async def delete(self, index: int, storage: str) -> None:
        raise AssertionError(f"nothing to delete for a message handed over directly ({storage}/{index})")


async def test_a_message_already_taken_in_is_deleted_but_not_emitted_again(tmp_path: Path) -> None:
    async def pretend_taken_in_before_a_crash(sims: list[Simulator], config: Config) -> None:
        (index,) = await sims[0].inject_sms("+33612345678", "committed before the crash")
        stored = sims[0].state()["stored"][0]
        db = await open_database(config.daemon.database)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO taken_in (id_phone, storage, sim_index, pdu, kind, taken_at) "
                "VALUES (1, ?, ?, ?, 'sms', ?)",
                (stored["storage"], index, stored["pdu"].upper(), time.time()),
            )
        await db.close()

    async with running_daemon(tmp_path, before_start=pretend_taken_in_before_a_crash) as env:
        await _wait(lambda: not env.sims[0].state()["stored"])
        await env.sims[0].inject_sms("+33612345678", "a new one")
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "a new one"
        await asyncio.sleep(0.3)
        assert len(env.of_type("receive_sms")) == 1


async def test_an_undecodable_pdu_is_kept_raw_and_deleted_without_a_webhook(tmp_path: Path) -> None:
    async with running_daemon(tmp_path) as env:
        sup = env.daemon.supervisors[1]
        await sup.handle(UndecodableSms(index=None, storage="SM", pdu="07FFFF", error="truncated"))
        row = await env.daemon.db.fetchone("SELECT pdu, error, id_phone FROM undecodable")
        assert row is not None and tuple(row) == ("07FFFF", "truncated", 1)
        assert await env.daemon.db.fetchone("SELECT 1 FROM received") is None


def _parts(number: str, text: str) -> list[tuple[str, DeliverPdu]]:
    out = []
    for hex_pdu in encode_deliver(number, text, scts=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), concat_ref=7):
        msg = decode(hex_pdu)
        assert isinstance(msg, DeliverPdu)
        out.append((hex_pdu, msg))
    return out


async def test_an_incomplete_multipart_is_delivered_with_what_arrived_after_the_timeout(
    tmp_path: Path,
) -> None:
    text = "A" * 153 + "B" * 153 + "C" * 10
    parts = _parts("+33612345678", text)
    assert len(parts) == 3
    clock = ManualClock()
    db = await open_database(tmp_path / "db.sqlite3")
    try:
        async with db.transaction() as conn:
            await add_webhook(conn, "inbox", "http://127.0.0.1:9/hook", types=["receive_sms"])
            await messages.upsert_phone(conn, id=1, name="p", backend="at", device="/dev/x", enabled=True)
        ctx = PhoneContext(db=db, api_key=API_KEY, clock=clock, multipart_timeout=600.0)
        sup = PhoneSupervisor(PhoneConfig(id=1, device="/dev/x"), NoBackend(), ctx)
        for hex_pdu, msg in (parts[0], parts[2], parts[0]):  # the last one is a repeat
            await sup.handle(SmsReceived(index=None, storage="", pdu=hex_pdu, message=msg))
        clock.advance(599.0)
        assert await flush_expired_multiparts(ctx) == 0  # not old enough yet
        assert await db.fetchall("SELECT * FROM received") == []
        clock.advance(1.0)
        assert await flush_expired_multiparts(ctx) == 1
        row = await db.fetchone("SELECT text, complete, parts FROM received")
        assert row is not None and tuple(row) == ("A" * 153 + "C" * 10, 0, 2)
        (body,) = [json.loads(r["body"]) for r in await db.fetchall("SELECT body FROM outbox")]
        assert body["text"] == "A" * 153 + "C" * 10
        assert await flush_expired_multiparts(ctx) == 0  # delivered once
    finally:
        await db.close()


async def test_parts_arriving_in_any_order_complete_one_message(tmp_path: Path) -> None:
    parts = _parts("+33612345678", "é" * 200)
    async with running_daemon(tmp_path) as env:
        sup = env.daemon.supervisors[1]
        for hex_pdu, msg in reversed(parts):
            await sup.handle(SmsReceived(index=None, storage="", pdu=hex_pdu, message=msg))
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "é" * 200


async def test_two_phones_one_unplugged_and_replugged_while_the_other_keeps_receiving(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phones=2) as env:
        a, b = env.sims
        await a.fault("unplug")
        await _wait(lambda: env.daemon.supervisors[1].status()["state"] == "disconnected")
        for i in range(5):
            await b.inject_sms("+33600000002", f"on b {i}")
        await a.inject_sms("+33600000001", "while unplugged")  # stays on the SIM until the modem is back
        await env.wait_type("receive_sms", 5)
        assert {d.body["destination"] for d in env.of_type("receive_sms")} == {2}
        await a.fault("replug")
        await env.daemon.attach(str(a.link))
        ds = await env.wait_type("receive_sms", 6, within=20)
        assert [d.body["text"] for d in ds if d.body["destination"] == 1] == ["while unplugged"]
        await _wait(lambda: env.daemon.supervisors[1].status()["state"] == "connected")
        await _wait(lambda: not a.state()["stored"] and not b.state()["stored"])


async def test_a_modem_plugged_in_after_start_is_picked_up_on_attach(tmp_path: Path) -> None:
    late = tmp_path / "late-modem"
    async with running_daemon(tmp_path, phone_overrides={"device": str(late)}) as env:
        sup = env.daemon.supervisors[1]
        assert sup.status()["state"] == "disconnected"
        async with simulated_modem(tmp_path, name="late-modem") as sim:
            assert await env.daemon.attach(str(late)) == [1]
            await poll_until(lambda: sup.status()["state"] == "connected", within=10)
            assert sup.status()["imei"] == sim.imei
            await sim.inject_sms("+33612345678", "hello, late modem")
            (d,) = await env.wait_type("receive_sms")
            assert d.body["text"] == "hello, late modem"


async def test_a_phone_configured_by_imei_is_found_on_the_device_udev_reports(tmp_path: Path) -> None:
    async with running_daemon(tmp_path, phone_overrides={"device": "", "imei": "867000000000001"}) as env:
        sup = env.daemon.supervisors[1]
        assert sup.status()["state"] == "disconnected"
        async with simulated_modem(tmp_path, name="other", imei="867000000000999") as other:
            assert await env.daemon.attach(str(other.link)) == []  # a modem, but not ours
        assert await env.daemon.attach(str(env.sims[0].link)) == [1]
        await poll_until(lambda: sup.status()["state"] == "connected", within=15)
        assert sup.status()["device"] == str(env.sims[0].link)
        await env.sims[0].inject_sms("+33612345678", "found by IMEI")
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "found by IMEI"


async def test_a_take_in_that_the_store_refuses_is_retried_and_nothing_is_deleted_meanwhile(
    tmp_path: Path,
) -> None:
    async with running_daemon(tmp_path) as env:
        sup = env.daemon.supervisors[1]
        sup.take_in_retries = (0.2,) * 20
        db = env.daemon.db
        async with db.transaction() as conn:  # the store breaks: every take-in fails
            await conn.execute("ALTER TABLE received RENAME TO received_away")
        await env.sims[0].inject_sms("+33612345678", "survives a broken store")
        await asyncio.sleep(0.8)
        assert len(env.sims[0].state()["stored"]) == 1  # not deleted: it was not committed
        async with db.transaction() as conn:
            await conn.execute("ALTER TABLE received_away RENAME TO received")
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "survives a broken store"
        await poll_until(lambda: not env.sims[0].state()["stored"])


async def test_a_message_handed_over_directly_is_retried_too_when_the_store_refuses_it(
    tmp_path: Path,
) -> None:
    (hex_pdu,) = encode_deliver("+33612345678", "only copy", scts=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    msg = decode(hex_pdu)
    assert isinstance(msg, DeliverPdu)
    async with running_daemon(tmp_path) as env:
        sup = env.daemon.supervisors[1]
        sup.take_in_retries = (0.2,) * 20
        db = env.daemon.db
        async with db.transaction() as conn:  # the store breaks: every take-in fails
            await conn.execute("ALTER TABLE received RENAME TO received_away")
        # +CMT: no SIM slot, so the event is the only copy of the message
        handling = asyncio.create_task(
            sup.handle(SmsReceived(index=None, storage="", pdu=hex_pdu, message=msg))
        )
        await asyncio.sleep(0.5)
        assert not handling.done()  # still retrying
        async with db.transaction() as conn:
            await conn.execute("ALTER TABLE received_away RENAME TO received")
        await asyncio.wait_for(handling, 5)
        (d,) = await env.wait_type("receive_sms")
        assert d.body["text"] == "only copy"


async def test_a_new_multipart_reusing_the_reference_of_one_still_waiting_is_not_mixed_into_it(
    tmp_path: Path,
) -> None:
    old = _parts("+33612345678", "A" * 153 + "B" * 153 + "C" * 10)  # part 2 never arrives
    new = _parts("+33612345678", "X" * 153 + "Y" * 153 + "Z" * 10)  # same sender, same reference 7
    async with running_daemon(tmp_path) as env:
        sup = env.daemon.supervisors[1]
        for hex_pdu, msg in (old[0], old[2], *new):
            await sup.handle(SmsReceived(index=None, storage="", pdu=hex_pdu, message=msg))
        ds = await env.wait_type("receive_sms", 2)
        assert [d.body["text"] for d in ds] == ["A" * 153 + "C" * 10, "X" * 153 + "Y" * 153 + "Z" * 10]
        rows = await env.daemon.db.fetchall("SELECT complete, parts FROM received ORDER BY id")
        assert [tuple(r) for r in rows] == [(0, 2), (1, 3)]
        assert await env.daemon.db.fetchall("SELECT * FROM multipart_part") == []


async def test_delivering_a_multipart_whose_parts_are_gone_emits_no_empty_sms(tmp_path: Path) -> None:
    # The housekeeping job picks an expired message, then the supervisor completes it before the job's
    # transaction runs: the job then finds no part and must not deliver an empty text.
    async with running_daemon(tmp_path) as env:
        assert env.daemon.ctx is not None
        async with env.daemon.db.transaction() as conn:
            rid = await deliver_multipart(
                env.daemon.ctx, conn, id_phone=1, origin="+33612345678", ref=7, total=3, complete=False
            )
        assert rid is None
        assert await env.daemon.db.fetchall("SELECT * FROM received") == []
        assert await env.daemon.db.fetchall("SELECT * FROM outbox") == []


async def test_a_sim_refusing_the_pin_stops_the_phone_after_one_try_and_says_why(tmp_path: Path) -> None:
    async with running_daemon(
        tmp_path, sim_overrides={"pin": "1234"}, phone_overrides={"pin": "0000"}
    ) as env:
        sup = env.daemon.supervisors[1]
        await _wait(lambda: sup.error is not None)
        await asyncio.sleep(0.5)  # a retry, if any, would spend another try now
        status = sup.status()
        assert status["state"] == "disconnected"
        assert "+CME ERROR: 16" in str(status["error"])
        # One wrong PIN spent, two tries left: the SIM is not on its way to PUK.
        assert env.sims[0].state()["settings"]["pin_attempts"] == 2
