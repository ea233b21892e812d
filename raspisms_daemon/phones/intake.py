"""Taking one modem event into the store: what it becomes, its webhooks and the ``taken_in`` row that
lets the SIM slot be freed — in one transaction per event.

This is the heart of "no message is ever lost": each function here commits (or rolls back) as a
whole, and the phone supervisor deletes a stored message from the SIM only after it returned. A
message seen again (a crash between the commit and ``AT+CMGD``, or the periodic sweep) matches its
``taken_in`` row: the caller deletes it, nothing is emitted twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from ..gsm.modem import ReportReceived, SmsReceived, UndecodableSms
from ..store import received as store
from ..store import sent as sent_store
from ..webhooks import events
from .context import PhoneContext
from .multipart import Outcome, Part, add_part, assemble
from .reports import apply_report
from .sms_stop import take_stop

__all__ = [
    "PartTaken",
    "deliver_multipart",
    "slot_key",
    "take_part",
    "take_report",
    "take_sms",
    "take_undecodable",
]

Stored = SmsReceived | UndecodableSms | ReportReceived


def slot_key(ev: Stored) -> str:
    """The content half of the taken-in key: the PDU, or a digest of the decoded fields when the
    backend sees no PDU (gammu), so that a new message in a reused slot is never mistaken for an old one."""
    if ev.pdu:
        return ev.pdu.upper()
    if isinstance(ev, SmsReceived):
        m = ev.message
        return f"sms|{m.number}|{m.scts.isoformat()}|{m.concat}|{m.text}"
    if isinstance(ev, ReportReceived):
        r = ev.report
        return f"report|{r.mr}|{r.number}|{r.scts.isoformat()}|{r.discharge.isoformat()}|{r.status}"
    return f"undecodable|{ev.error}"


async def _seen(conn: aiosqlite.Connection, id_phone: int, ev: Stored) -> bool:
    if ev.index is None:
        return False  # handed over directly (+CMT/+CDS): it cannot be seen again
    return await store.seen(conn, id_phone=id_phone, storage=ev.storage, index=ev.index, key=slot_key(ev))


async def _mark_taken(
    ctx: PhoneContext, conn: aiosqlite.Connection, id_phone: int, ev: Stored, kind: str, ref_id: int | None
) -> None:
    if ev.index is None:
        return  # nothing on the SIM to delete or see again
    await store.mark_taken(
        conn,
        id_phone=id_phone,
        storage=ev.storage,
        index=ev.index,
        key=slot_key(ev),
        kind=kind,
        ref_id=ref_id,
        at=ctx.now(),
    )


async def take_sms(ctx: PhoneContext, id_phone: int, ev: SmsReceived) -> int | None:
    """A single-part SMS: its ``received`` row and ``receive_sms``; the new row's id, or None when it
    was taken in before."""
    m = ev.message
    async with ctx.db.transaction() as conn:
        if await _seen(conn, id_phone, ev):
            return None
        now = ctx.now()
        new_id = await store.insert_received(
            conn,
            at=now,
            text=m.text,
            origin=m.number,
            id_phone=id_phone,
            smsc=m.smsc,
            scts=m.scts.isoformat(),
        )
        await ctx.emit(
            conn,
            "receive_sms",
            events.receive_sms(
                id=new_id, at=ctx.local(now), origin=m.number, destination=id_phone, text=m.text
            ),
        )
        stop = await take_stop(ctx, conn, text=m.text, origin=m.number, id_phone=id_phone, id_received=new_id)
        await _mark_taken(ctx, conn, id_phone, ev, "sms", new_id)
    ctx.count("received_total")
    if stop:
        ctx.wake_sender()
    return new_id


@dataclass(frozen=True)
class PartTaken:
    """What one part did: its outcome (None: taken in before), the id of the SMS it completed, and
    whether an older message reusing the reference had to be delivered incomplete first."""

    outcome: Outcome | None
    received_id: int | None = None
    clash: bool = False


async def take_part(ctx: PhoneContext, id_phone: int, ev: SmsReceived) -> PartTaken:
    """One part of a multipart SMS: stored; the whole message delivered when it completes it."""
    m = ev.message
    c = m.concat
    assert c is not None
    key = store.PartKey(id_phone, m.number, c.ref, c.total)
    async with ctx.db.transaction() as conn:
        if await _seen(conn, id_phone, ev):
            return PartTaken(None)
        existing = {p.seq: p.text for p in await store.parts_of(conn, key)}
        outcome = add_part(existing, c.seq, c.total, m.text)
        clash = outcome is Outcome.CLASH
        if clash:
            # This sender reused the reference while an older message still waits for a part: the
            # older one is delivered with what arrived, and this part starts the new one.
            await deliver_multipart(ctx, conn, key, complete=False)
            outcome = add_part({}, c.seq, c.total, m.text)
        part_id: int | None = None
        if outcome is not Outcome.DUPLICATE:
            part_id = await store.insert_part(
                conn,
                key,
                seq=c.seq,
                text=m.text,
                encoding=m.encoding,
                data=m.data,
                smsc=m.smsc,
                scts=m.scts.isoformat(),
                at=ctx.now(),
            )
        rid = await deliver_multipart(ctx, conn, key, complete=True) if outcome is Outcome.COMPLETE else None
        await _mark_taken(ctx, conn, id_phone, ev, "part", rid or part_id)
    return PartTaken(outcome, rid, clash)


async def deliver_multipart(
    ctx: PhoneContext, conn: aiosqlite.Connection, key: store.PartKey, *, complete: bool
) -> int | None:
    """Turn the stored parts of one message into its ``received`` row and ``receive_sms`` (caller's tx).

    None when no part is stored (any more): nothing to deliver, never an empty SMS."""
    parts = await store.parts_of(conn, key)
    if not parts:
        return None
    text = assemble({p.seq: Part(p.text, p.encoding, p.data) for p in parts})
    now = ctx.now()
    rid = await store.insert_received(
        conn,
        at=now,
        text=text,
        origin=key.origin,
        id_phone=key.id_phone,
        smsc=parts[0].smsc,
        scts=parts[0].scts,
        parts=len(parts),
        complete=complete,
    )
    await ctx.emit(
        conn,
        "receive_sms",
        events.receive_sms(id=rid, at=ctx.local(now), origin=key.origin, destination=key.id_phone, text=text),
    )
    await store.delete_parts(conn, key)
    if await take_stop(ctx, conn, text=text, origin=key.origin, id_phone=key.id_phone, id_received=rid):
        # Before the commit: a sender that looks too early finds the reply at its next poll.
        ctx.wake_sender()
    ctx.count("received_total")
    return rid


async def take_report(ctx: PhoneContext, id_phone: int, ev: ReportReceived) -> bool | None:
    """A delivery report: applied to the part it is about; True when one matched, False when kept for
    later (it may have beaten the sender's commit), None when taken in before."""
    r = ev.report
    async with ctx.db.transaction() as conn:
        if await _seen(conn, id_phone, ev):
            return None
        matched = await apply_report(
            ctx, conn, id_phone=id_phone, mr=r.mr, number=r.number, outcome=r.outcome
        )
        if not matched:
            # The sender looks here when it records its parts.
            await sent_store.add_unmatched_report(
                conn,
                id_phone=id_phone,
                mr=r.mr,
                number=r.number,
                outcome=r.outcome,
                status=r.status,
                at=ctx.now(),
            )
        await _mark_taken(ctx, conn, id_phone, ev, "report", None)
    return matched


async def take_undecodable(ctx: PhoneContext, id_phone: int, ev: UndecodableSms) -> bool:
    """A PDU the codec refused, kept raw in ``undecodable``; False when taken in before."""
    async with ctx.db.transaction() as conn:
        if await _seen(conn, id_phone, ev):
            return False
        row_id = await store.insert_undecodable(
            conn,
            id_phone=id_phone,
            storage=ev.storage,
            index=ev.index,
            pdu=ev.pdu,
            error=ev.error,
            at=ctx.now(),
        )
        await _mark_taken(ctx, conn, id_phone, ev, "undecodable", row_id)
    return True
