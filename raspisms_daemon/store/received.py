"""What a modem hands in: received SMS, parts of multipart SMS, undecodable PDUs, and the ``taken_in``
bookkeeping that lets a stored message be deleted from the SIM and never be emitted twice.

Every write runs inside the caller's transaction: the phone supervisor takes one modem event in with
one transaction (the message, its outbox rows and its ``taken_in`` row commit together).
"""

from __future__ import annotations

from typing import NamedTuple

import aiosqlite

from .db import Database

__all__ = [
    "PartKey",
    "StoredPart",
    "delete_parts",
    "expired_messages",
    "insert_part",
    "insert_received",
    "insert_undecodable",
    "mark_taken",
    "parts_of",
    "prune_taken_in",
    "seen",
]


class PartKey(NamedTuple):
    """One multipart message as 3GPP TS 23.040 §9.2.3.24.1 identifies it: sender, reference, part count
    (on one phone)."""

    id_phone: int
    origin: str
    ref: int
    total: int


class StoredPart(NamedTuple):
    seq: int
    text: str
    encoding: str | None  # gsm7 | ucs2 | 8bit; None for parts stored before the user data was kept
    data: bytes | None  # the part's user data as the codec gives it (GSM-7: one septet per octet)
    smsc: str | None
    scts: str | None


async def seen(conn: aiosqlite.Connection, *, id_phone: int, storage: str, index: int, key: str) -> bool:
    """Whether the message in this SIM slot, with this content key, was taken in already."""
    async with conn.execute(
        "SELECT 1 FROM taken_in WHERE id_phone = ? AND storage = ? AND sim_index = ? AND pdu = ?",
        (id_phone, storage, index, key),
    ) as cur:
        return await cur.fetchone() is not None


async def mark_taken(
    conn: aiosqlite.Connection,
    *,
    id_phone: int,
    storage: str,
    index: int,
    key: str,
    kind: str,
    ref_id: int | None,
    at: float,
) -> None:
    await conn.execute(
        "INSERT INTO taken_in (id_phone, storage, sim_index, pdu, kind, ref_id, taken_at) "
        "VALUES (?,?,?,?,?,?,?)",
        (id_phone, storage, index, key, kind, ref_id, at),
    )


async def prune_taken_in(conn: aiosqlite.Connection, *, before: float) -> None:
    await conn.execute("DELETE FROM taken_in WHERE taken_at < ?", (before,))


async def insert_received(
    conn: aiosqlite.Connection,
    *,
    at: float,
    text: str,
    origin: str,
    id_phone: int,
    smsc: str | None,
    scts: str | None,
    parts: int = 1,
    complete: bool = True,
) -> int:
    cur = await conn.execute(
        "INSERT INTO received (at, text, origin, id_phone, smsc, scts, parts, complete) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (at, text, origin, id_phone, smsc, scts, parts, int(complete)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def parts_of(conn: aiosqlite.Connection, key: PartKey) -> list[StoredPart]:
    """The parts of one message stored so far, in sequence order."""
    async with conn.execute(
        "SELECT seq, text, encoding, data, smsc, scts FROM multipart_part "
        "WHERE id_phone = ? AND origin = ? AND ref = ? AND total = ? ORDER BY seq",
        (key.id_phone, key.origin, key.ref, key.total),
    ) as cur:
        return [StoredPart(*row) for row in await cur.fetchall()]


async def insert_part(
    conn: aiosqlite.Connection,
    key: PartKey,
    *,
    seq: int,
    text: str,
    encoding: str,
    data: bytes,
    smsc: str | None,
    scts: str | None,
    at: float,
) -> int:
    cur = await conn.execute(
        "INSERT INTO multipart_part "
        "(id_phone, origin, ref, total, seq, text, encoding, data, smsc, scts, received_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (key.id_phone, key.origin, key.ref, key.total, seq, text, encoding, data, smsc, scts, at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


async def delete_parts(conn: aiosqlite.Connection, key: PartKey) -> None:
    await conn.execute(
        "DELETE FROM multipart_part WHERE id_phone = ? AND origin = ? AND ref = ? AND total = ?",
        (key.id_phone, key.origin, key.ref, key.total),
    )


async def expired_messages(db: Database, *, first_before: float) -> list[PartKey]:
    """Incomplete messages whose first part arrived at or before ``first_before``."""
    rows = await db.fetchall(
        "SELECT id_phone, origin, ref, total FROM multipart_part GROUP BY id_phone, origin, ref, total "
        "HAVING MIN(received_at) <= ?",
        (first_before,),
    )
    return [PartKey(*row) for row in rows]


async def insert_undecodable(
    conn: aiosqlite.Connection,
    *,
    id_phone: int,
    storage: str,
    index: int | None,
    pdu: str,
    error: str,
    at: float,
) -> int:
    cur = await conn.execute(
        "INSERT INTO undecodable (id_phone, storage, sim_index, pdu, error, received_at) "
        "VALUES (?,?,?,?,?,?)",
        (id_phone, storage, index, pdu, error, at),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid
