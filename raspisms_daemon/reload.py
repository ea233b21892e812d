"""What a configuration reload (SIGHUP, ``systemctl reload``) changes at once, and what waits for a
restart. Pure: two validated :class:`~raspisms_daemon.config.Config` values in, a plan out.

Taken at once: the webhooks (all of ``[webhook:*]``), the reliability rules (``[reliability]``), the
log level (``[daemon] log_level``) and, per phone, the keys read at each use: ``name``, ``send_rate``,
``delivery_reports``, ``hangup_calls``. Everything else — the database, the API key and address,
delivery timeouts and concurrency, a phone's device, backend, PIN, polling, a phone added, removed,
enabled or disabled — is held by a running part (an open file, a socket, a modem session): the running
value is kept, and the plan names the key so the daemon logs that it needs a restart.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .config import Config, PhoneConfig

__all__ = ["RELOADABLE_PHONE_KEYS", "ReloadPlan", "plan_reload"]

RELOADABLE_PHONE_KEYS = frozenset({"name", "send_rate", "delivery_reports", "hangup_calls"})


class ReloadPlan(NamedTuple):
    config: Config  # the configuration to run with from now on
    applied: tuple[str, ...]  # "[section] key" taken at once
    needs_restart: tuple[str, ...]  # "[section] key" changed in the file, running value kept


def _changed(old: Any, new: Any) -> list[str]:
    return [name for name in old._fields if getattr(old, name) != getattr(new, name)]


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    applied: list[str] = []
    restart: list[str] = []

    daemon = old.daemon
    for key in _changed(old.daemon, new.daemon):
        if key == "log_level":
            daemon = daemon._replace(log_level=new.daemon.log_level)
            applied.append("[daemon] log_level")
        else:
            restart.append(f"[daemon] {key}")
    restart += [f"[api] {key}" for key in _changed(old.api, new.api)]
    restart += [f"[delivery] {key}" for key in _changed(old.delivery, new.delivery)]
    applied += [f"[reliability] {key}" for key in _changed(old.reliability, new.reliability)]

    old_hooks = {h.name: h for h in old.webhooks}
    new_hooks = {h.name: h for h in new.webhooks}
    applied += [
        f"[webhook:{name}]"
        for name in sorted(old_hooks.keys() | new_hooks.keys())
        if old_hooks.get(name) != new_hooks.get(name)
    ]

    new_phones = {p.id: p for p in new.phones}
    phones: list[PhoneConfig] = []
    for phone in old.phones:
        fresh = new_phones.get(phone.id)
        if fresh is None:
            restart.append(f"[phone:{phone.id}] (removed)")
            phones.append(phone)
            continue
        keep = phone
        for key in _changed(phone, fresh):
            if key in RELOADABLE_PHONE_KEYS:
                keep = keep._replace(**{key: getattr(fresh, key)})
                applied.append(f"[phone:{phone.id}] {key}")
            else:
                restart.append(f"[phone:{phone.id}] {key}")
        phones.append(keep)
    if old.mqtt != new.mqtt:
        restart.append("[mqtt]")  # held by the broker connection
    old_ids = {p.id for p in old.phones}
    restart += [f"[phone:{p.id}] (added)" for p in new.phones if p.id not in old_ids]

    config = old._replace(
        daemon=daemon,
        reliability=new.reliability,
        webhooks=new.webhooks,
        phones=tuple(phones),
        warnings=new.warnings,
    )
    return ReloadPlan(config, tuple(applied), tuple(restart))
