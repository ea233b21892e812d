"""Taking modem events into the store: what each becomes, its webhooks and the ``taken_in`` row that
lets the SIM slot be freed — all of one batch in one transaction.

This is the heart of "no message is ever lost": :func:`take_in` commits (or rolls back) a batch as a
whole, and the phone supervisor deletes a stored message from the SIM only after it returned. Messages
that arrive together (a sweep's listing, a burst of ``+CMTI``) share that one commit, so a burst pays
one fsync per batch instead of one per message. A message seen again (a crash between the commit and
``AT+CMGD``, or the periodic sweep) matches its ``taken_in`` row: the caller deletes it, nothing is
emitted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import aiosqlite

from ..gsm.modem import ReportReceived, SmsReceived, UndecodableSms
from ..store import received as store
from ..store import sent as sent_store
from ..webhooks import events
from .context import PhoneContext
from .multipart import Outcome, Part, add_part, assemble
from .reports import apply_report
from .sms_stop import take_stop

__all__ = ["Delivered", "Stored", "Taken", "deliver_multipart", "is_part", "slot_key", "take_in"]

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


class Taken(NamedTuple):
    """What taking one message in did.

    ``again``: it was taken in before (seen again): nothing was stored, only its slot is to be freed.
    ``received_id``: the SMS it delivered (a single SMS, or the multipart message it completed).
    ``outcome`` and ``clash`` (a part): what it did to its message, and whether an older message reusing
    the reference had to be delivered incomplete first. ``matched`` (a report): applied to a sent part
    (else kept for the sender). ``stop``: an SMS STOP put its sender on the list.
    """

    again: bool = False
    received_id: int | None = None
    outcome: Outcome | None = None
    clash: bool = False
    matched: bool = False
    stop: bool = False


async def take_in(ctx: PhoneContext, id_phone: int, messages: Sequence[Stored]) -> list[Taken]:
    """Take ``messages`` in, in order, with one transaction (one durable commit): each one's rows, its
    webhooks and its ``taken_in`` row; all of them or, when anything fails, none. One result per message."""
    async with ctx.db.transaction() as conn:
        taken = [await _take_one(ctx, conn, id_phone, ev) for ev in messages]
    singles = sum(
        1
        for ev, t in zip(messages, taken, strict=True)
        if isinstance(ev, SmsReceived) and not is_part(ev) and t.received_id is not None
    )
    if singles:
        ctx.count("received_total", singles)
    if any(t.stop for t in taken):
        ctx.wake_sender()
    return taken


def is_part(ev: SmsReceived) -> bool:
    """One part of a multipart message (a "multipart" of one part is a plain SMS)."""
    concat = ev.message.concat
    return concat is not None and concat.total > 1


async def _take_one(ctx: PhoneContext, conn: aiosqlite.Connection, id_phone: int, ev: Stored) -> Taken:
    if await _seen(conn, id_phone, ev):
        return Taken(again=True)
    if isinstance(ev, SmsReceived):
        return await (_take_part if is_part(ev) else _take_sms)(ctx, conn, id_phone, ev)
    if isinstance(ev, ReportReceived):
        return await _take_report(ctx, conn, id_phone, ev)
    return await _take_undecodable(ctx, conn, id_phone, ev)


async def _take_sms(ctx: PhoneContext, conn: aiosqlite.Connection, id_phone: int, ev: SmsReceived) -> Taken:
    """A single-part SMS: its ``received`` row and ``receive_sms``."""
    m = ev.message
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
        events.receive_sms(id=new_id, at=ctx.local(now), origin=m.number, destination=id_phone, text=m.text),
    )
    stop = await take_stop(ctx, conn, text=m.text, origin=m.number, id_phone=id_phone, id_received=new_id)
    await _mark_taken(ctx, conn, id_phone, ev, "sms", new_id)
    return Taken(received_id=new_id, stop=stop)


async def _take_part(ctx: PhoneContext, conn: aiosqlite.Connection, id_phone: int, ev: SmsReceived) -> Taken:
    """One part of a multipart SMS: stored; the whole message delivered when it completes it."""
    m = ev.message
    c = m.concat
    assert c is not None
    key = store.PartKey(id_phone, m.number, c.ref, c.total)
    existing = {p.seq: p.text for p in await store.parts_of(conn, key)}
    outcome = add_part(existing, c.seq, c.total, m.text)
    clash = outcome is Outcome.CLASH
    stop = False
    if clash:
        # This sender reused the reference while an older message still waits for a part: the
        # older one is delivered with what arrived, and this part starts the new one.
        older = await deliver_multipart(ctx, conn, key, complete=False)
        stop = older is not None and older.stop
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
    whole = await deliver_multipart(ctx, conn, key, complete=True) if outcome is Outcome.COMPLETE else None
    rid = whole.received_id if whole else None
    await _mark_taken(ctx, conn, id_phone, ev, "part", rid or part_id)
    return Taken(received_id=rid, outcome=outcome, clash=clash, stop=stop or bool(whole and whole.stop))


class Delivered(NamedTuple):
    """A multipart message turned into its ``received`` row; ``stop``: it was an SMS STOP (a reply
    may be scheduled: wake the sender once the transaction is committed)."""

    received_id: int
    stop: bool


async def deliver_multipart(
    ctx: PhoneContext, conn: aiosqlite.Connection, key: store.PartKey, *, complete: bool
) -> Delivered | None:
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
    stop = await take_stop(ctx, conn, text=text, origin=key.origin, id_phone=key.id_phone, id_received=rid)
    ctx.count("received_total")
    return Delivered(rid, stop)


async def _take_report(
    ctx: PhoneContext, conn: aiosqlite.Connection, id_phone: int, ev: ReportReceived
) -> Taken:
    """A delivery report: applied to the part it is about, or kept for later (it may have beaten the
    sender's commit)."""
    r = ev.report
    matched = await apply_report(ctx, conn, id_phone=id_phone, mr=r.mr, number=r.number, outcome=r.outcome)
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
    return Taken(matched=matched)


async def _take_undecodable(
    ctx: PhoneContext, conn: aiosqlite.Connection, id_phone: int, ev: UndecodableSms
) -> Taken:
    """A PDU the codec refused, kept raw in ``undecodable``."""
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
    return Taken()
