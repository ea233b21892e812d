"""Counts over what was sent, for RaspiSMS's ``/api/usage/``, ``/api/stats/sms-status/`` and
``/api/invalid_number/`` (models/Sended.php:192-215, 307-339, 352-378). Read-only."""

from __future__ import annotations

from typing import NamedTuple

from .db import Database

__all__ = ["InvalidNumber", "invalid_numbers", "sent_by_phone", "statuses"]


async def sent_by_phone(
    db: Database, *, start: float | None, end: float | None, tag_like: str | None
) -> dict[int, int]:
    """``{phone id: SMS sent}`` with ``start <= at <= end`` and ``tag LIKE tag_like`` (each when given)."""
    where: list[str] = ["id_phone IS NOT NULL"]
    params: list[float | str] = []
    if start is not None:
        where.append("at >= ?")
        params.append(start)
    if end is not None:
        where.append("at <= ?")
        params.append(end)
    if tag_like:
        where.append("tag LIKE ?")
        params.append(tag_like)
    rows = await db.fetchall(
        f"SELECT id_phone, COUNT(*) FROM sended WHERE {' AND '.join(where)} GROUP BY id_phone", params
    )
    return {r[0]: r[1] for r in rows}


async def statuses(
    db: Database, *, start: float, end: float, id_phone: int | None
) -> list[tuple[float, int, str]]:
    """``(at, id_phone, status)`` of every SMS sent with ``start <= at <= end`` (by one phone when
    given); the caller groups them by local day."""
    sql = "SELECT at, id_phone, status FROM sended WHERE id_phone IS NOT NULL AND at >= ? AND at <= ?"
    params: list[float | int] = [start, end]
    if id_phone is not None:
        sql += " AND id_phone = ?"
        params.append(id_phone)
    return [(r[0], r[1], r[2]) for r in await db.fetchall(sql, params)]


class InvalidNumber(NamedTuple):
    destination: str
    total_sms_sent: int
    failed_percentage: str  # a 0..1 ratio with two decimals, a string as RaspiSMS's DECIMAL
    unknown_percentage: str

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


async def invalid_numbers(
    db: Database, *, volume: int, failed: float, unknown: float, page: int, limit: int
) -> list[InvalidNumber]:
    """Destinations with at least ``volume`` SMS whose rounded failed and unknown ratios both reach
    ``failed`` and ``unknown`` (0..1), ``limit`` a page, by destination."""
    rows = await db.fetchall(
        "SELECT destination, COUNT(*), SUM(status = 'failed'), SUM(status = 'unknown') FROM sended "
        "WHERE state != 'sending' GROUP BY destination HAVING COUNT(*) >= ? ORDER BY destination",
        (volume,),
    )
    from decimal import ROUND_HALF_UP, Decimal  # here: only this API route needs it, and it is not light

    def ratio(part: int, total: int) -> Decimal:
        return (Decimal(part) / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    out: list[InvalidNumber] = []
    for destination, total, n_failed, n_unknown in rows:
        f, u = ratio(n_failed, total), ratio(n_unknown, total)
        if f >= Decimal(str(failed)) and u >= Decimal(str(unknown)):
            out.append(InvalidNumber(destination, total, str(f), str(u)))
    return out[page * limit : (page + 1) * limit]
