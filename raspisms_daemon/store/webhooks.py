"""The ``webhook`` table: where events are delivered, from the config file or added through the API/CLI.

Functions take an ``aiosqlite.Connection``; the ones that write must run inside the caller's
``Database.transaction()`` (they do not commit).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

import aiosqlite

from ..config import WebhookConfig, validate_webhook_name, validate_webhook_url
from ..errors import DeliveryError
from ..webhooks.events import DEFAULT_FLAVOR, WEBHOOK_FLAVORS, WEBHOOK_FORMATS, WEBHOOK_TYPES
from .outbox import make_backlog_due

__all__ = [
    "Webhook",
    "add_webhook",
    "disable_gone",
    "disable_webhook",
    "enable_webhook",
    "get_webhook",
    "list_webhooks",
    "remove_webhook",
    "sync_config_webhooks",
    "validate_tls",
    "validate_url",
]


class Webhook(NamedTuple):
    id: int
    name: str
    url: str
    types: frozenset[str]
    format: str
    enabled: bool
    disabled_reason: str | None
    source: str
    created_at: float
    flavor: str = DEFAULT_FLAVOR
    ca_file: str | None = None  # https: trust only the CAs in this PEM file (None: the system's)
    verify: bool = True  # False: an https receiver's certificate is not checked (insecure)
    kind: str = "http"  # http: a webhook URL; mqtt: the [mqtt] broker (store/mqtt.py)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "types": sorted(self.types),
            "format": self.format,
            "flavor": self.flavor,
            "ca_file": self.ca_file,
            "verify": self.verify,
            "kind": self.kind,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "source": self.source,
            "created_at": self.created_at,
        }


def validate_url(url: str) -> str:
    """The URL (stripped) when it is an absolute http(s) URL with a host; DeliveryError otherwise.

    Same rule as the config file's; the message does not repeat the URL (it may embed a token).
    """
    reason = validate_webhook_url(url)
    if reason is not None:
        raise DeliveryError(f"webhook URL refused: {reason}")
    return url.strip()


def validate_tls(url: str, ca_file: str | None, verify: bool) -> None:
    """DeliveryError when ``ca_file``/``verify`` do not fit the URL; whether the file is usable is for the
    caller to check (:func:`~raspisms_daemon.webhooks.tls.ca_file_problem`), on the daemon's machine."""
    if ca_file is not None and not verify:
        raise DeliveryError("give either a ca_file or verify = no, not both")
    if (ca_file is not None or not verify) and not url.strip().lower().startswith("https://"):
        what = "ca_file" if ca_file is not None else "verify = no"
        raise DeliveryError(f"{what} is for https:// URLs only")
    if ca_file is not None and not ca_file.startswith("/"):
        raise DeliveryError(f"ca_file must be an absolute path, not {ca_file!r}")


def _validate(name: str, url: str, types: Iterable[str], fmt: str, flavor: str) -> tuple[str, str, str]:
    name = name.strip()
    if not name:
        raise DeliveryError("webhook name must not be empty")
    reason = validate_webhook_name(name)
    if reason is not None:
        raise DeliveryError(f"webhook name {name!r} refused: {reason}")
    url = validate_url(url)
    type_set = set(types)
    unknown = sorted(type_set - set(WEBHOOK_TYPES))
    if unknown:
        raise DeliveryError(
            f"unknown webhook type(s) {', '.join(unknown)} (known: {', '.join(WEBHOOK_TYPES)})"
        )
    if not type_set:
        raise DeliveryError("a webhook needs at least one event type")
    if fmt not in WEBHOOK_FORMATS:
        raise DeliveryError(f"webhook format must be {' or '.join(WEBHOOK_FORMATS)}, not {fmt!r}")
    if flavor not in WEBHOOK_FLAVORS:
        raise DeliveryError(f"webhook flavor must be {' or '.join(WEBHOOK_FLAVORS)}, not {flavor!r}")
    return name, url, ",".join(t for t in WEBHOOK_TYPES if t in type_set)


def _row_to_webhook(row: sqlite3.Row) -> Webhook:
    return Webhook(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        types=frozenset(t for t in row["types"].split(",") if t),
        format=row["format"],
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        source=row["source"],
        created_at=row["created_at"],
        flavor=row["flavor"],
        ca_file=row["ca_file"],
        verify=bool(row["verify"]),
        kind=row["kind"],
    )


_COLUMNS = (
    "id, name, url, types, format, enabled, disabled_reason, source, created_at, flavor, ca_file, verify, "
    "kind"
)


async def list_webhooks(conn: aiosqlite.Connection) -> list[Webhook]:
    async with conn.execute(f"SELECT {_COLUMNS} FROM webhook ORDER BY name") as cur:
        return [_row_to_webhook(r) for r in await cur.fetchall()]


async def get_webhook(conn: aiosqlite.Connection, name_or_id: str | int) -> Webhook:
    """By name, or by id when given an int; DeliveryError when there is none."""
    column = "id" if isinstance(name_or_id, int) else "name"
    async with conn.execute(f"SELECT {_COLUMNS} FROM webhook WHERE {column} = ?", (name_or_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise DeliveryError(
            f"no webhook with id {name_or_id}" if column == "id" else f"no webhook named {name_or_id!r}"
        )
    return _row_to_webhook(row)


async def add_webhook(
    conn: aiosqlite.Connection,
    name: str,
    url: str,
    *,
    types: Iterable[str] = WEBHOOK_TYPES,
    format: str = "form",
    enabled: bool = True,
    source: str = "api",
    flavor: str = DEFAULT_FLAVOR,
    ca_file: str | None = None,
    verify: bool = True,
    now: float,
) -> Webhook:
    name, url, types_text = _validate(name, url, types, format, flavor)
    validate_tls(url, ca_file, verify)
    async with conn.execute("SELECT 1 FROM webhook WHERE name = ?", (name,)) as cur:
        if await cur.fetchone() is not None:
            raise DeliveryError(f"a webhook named {name!r} already exists")
    async with conn.execute(
        "INSERT INTO webhook (name, url, types, format, enabled, source, created_at, flavor, ca_file, "
        "verify) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (name, url, types_text, format, int(enabled), source, now, flavor, ca_file, int(verify)),
    ) as cur:
        new_id = cur.lastrowid
    assert new_id is not None
    return await get_webhook(conn, new_id)


async def remove_webhook(conn: aiosqlite.Connection, name: str) -> int:
    """Delete the webhook and its outbox rows (the user asked for it); returns how many were pending."""
    hook = await get_webhook(conn, name)
    async with conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE webhook_id = ? AND state = 'pending'", (hook.id,)
    ) as cur:
        row = await cur.fetchone()
    pending = int(row[0]) if row else 0
    await conn.execute(
        "DELETE FROM delivery_attempt WHERE outbox_id IN (SELECT id FROM outbox WHERE webhook_id = ?)",
        (hook.id,),
    )
    await conn.execute("DELETE FROM outbox WHERE webhook_id = ?", (hook.id,))
    await conn.execute("DELETE FROM webhook WHERE id = ?", (hook.id,))
    return pending


async def enable_webhook(conn: aiosqlite.Connection, name: str, *, now: float) -> Webhook:
    """Enable it again; its pending rows (kept while it was disabled) become due at once."""
    hook = await get_webhook(conn, name)
    await conn.execute("UPDATE webhook SET enabled = 1, disabled_reason = NULL WHERE id = ?", (hook.id,))
    await make_backlog_due(conn, webhook_id=hook.id, now=now)
    return await get_webhook(conn, hook.id)


async def disable_webhook(conn: aiosqlite.Connection, name_or_id: str | int, reason: str) -> Webhook:
    """Disable it; nothing is delivered to it until enabled again, and its pending rows are kept."""
    hook = await get_webhook(conn, name_or_id)
    await conn.execute("UPDATE webhook SET enabled = 0, disabled_reason = ? WHERE id = ?", (reason, hook.id))
    return await get_webhook(conn, hook.id)


async def disable_gone(conn: aiosqlite.Connection, webhook_id: int, reason: str) -> bool:
    """Disable a webhook whose receiver answered 410 Gone; False when it was disabled already (the
    first reason stays)."""
    cur = await conn.execute(
        "UPDATE webhook SET enabled = 0, disabled_reason = ? WHERE id = ? AND enabled = 1",
        (reason, webhook_id),
    )
    return cur.rowcount > 0


def _digest(cfg: WebhookConfig) -> str:
    parts = [cfg.url, ",".join(sorted(cfg.types)), cfg.format, str(int(cfg.enabled))]
    # Later keys join the digest only when not at their default, so that a digest stored before they
    # existed still matches.
    if cfg.flavor != DEFAULT_FLAVOR:
        parts.append(cfg.flavor)
    if cfg.ca_file is not None:
        parts.append(f"ca_file={cfg.ca_file}")
    if not cfg.verify:
        parts.append("verify=no")
    text = "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()


async def sync_config_webhooks(
    conn: aiosqlite.Connection, configs: Iterable[WebhookConfig], *, now: float
) -> None:
    """Upsert the config's ``[webhook:NAME]`` entries (source ``config``), inside the caller's transaction.

    A config webhook that a 410 disabled stays disabled across restarts, until its config entry changes
    (the owner fixed the URL, say) or someone enables it. An entry removed from the config keeps its row
    but is disabled, so its pending deliveries are not lost.
    """
    seen: set[str] = set()
    for cfg in configs:
        name, url, types_text = _validate(cfg.name, cfg.url, cfg.types, cfg.format, cfg.flavor)
        ca_file = None if cfg.ca_file is None else str(cfg.ca_file)
        validate_tls(url, ca_file, cfg.verify)
        seen.add(name)
        digest = _digest(cfg)
        reason = None if cfg.enabled else "disabled in the config"
        fields = (url, types_text, cfg.format, int(cfg.enabled), reason, cfg.flavor, ca_file, int(cfg.verify))
        async with conn.execute(
            "SELECT id, config_digest, source, kind FROM webhook WHERE name = ?", (name,)
        ) as cur:
            row = await cur.fetchone()
        if row is not None and row["kind"] != "http":
            raise DeliveryError(f"[webhook:{name}]: the name {name!r} is the [mqtt] broker's; choose another")
        if row is None:
            await conn.execute(
                "INSERT INTO webhook (url, types, format, enabled, disabled_reason, flavor, ca_file, verify, "
                "name, source, config_digest, created_at) VALUES (?,?,?,?,?,?,?,?,?,'config',?,?)",
                (*fields, name, digest, now),
            )
        elif row["config_digest"] != digest or row["source"] != "config":
            await conn.execute(
                "UPDATE webhook SET url = ?, types = ?, format = ?, enabled = ?, disabled_reason = ?, "
                "flavor = ?, ca_file = ?, verify = ?, source = 'config', config_digest = ? WHERE id = ?",
                (*fields, digest, row["id"]),
            )
    # Entries gone from the config: disabled, not deleted, so their pending deliveries are kept.
    async with conn.execute(
        "SELECT id, name FROM webhook WHERE source = 'config' AND enabled = 1 AND kind = 'http'"
    ) as cur:
        stale = [(r["id"],) for r in await cur.fetchall() if r["name"] not in seen]
    await conn.executemany(
        "UPDATE webhook SET enabled = 0, disabled_reason = 'removed from the config', config_digest = NULL "
        "WHERE id = ?",
        stale,
    )
