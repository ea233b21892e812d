"""The topic tree of one gateway (docs/design.md, "Several gateways"). Pure.

<prefix>/<gateway>/status                 online | offline (retained; offline is the last will)
<prefix>/<gateway>/event/<type>           every event, as the JSON webhook body (QoS 1)
$share/<prefix>/<prefix>/send             send jobs for any gateway of the fleet (shared subscription)
<prefix>/<gateway>/send                   send jobs for this gateway
<prefix>/<gateway>/sent/<job id>          a job's status changes
<prefix>/<gateway>/phone/<id>/state       signal, operator, registration, available (retained)
<prefix>/<gateway>/phone/<id>/last_sms    the last SMS received (retained; Home Assistant)
<prefix>/<gateway>/phone/<id>/event       SMS received and calls, as Home Assistant events
<prefix>/<gateway>/phone/<id>/notify      text to send, from Home Assistant's notify entity
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["Topics", "gateway_name", "job_id_topic_safe"]

_NOT_LEVEL = re.compile(r"[^A-Za-z0-9_.-]+")


def gateway_name(configured: str, hostname: str) -> str:
    """``[mqtt] gateway``, or the host name made a topic level (``pi.local`` stays, ``my pi`` → ``my-pi``)."""
    if configured:
        return configured
    name = _NOT_LEVEL.sub("-", hostname.split(".")[0] if hostname else "").strip("-")[:64]
    return name or "gateway"


def job_id_topic_safe(job_id: str) -> bool:
    """Whether a job id can be one topic level (``sent/<id>``): no ``/``, ``+``, ``#`` or NUL."""
    return bool(job_id) and not any(c in job_id for c in "/+#\x00")


class Topics(NamedTuple):
    prefix: str
    gateway: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.gateway}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def shared_send(self) -> str:
        """The fleet's shared subscription: the broker hands each job to one of its subscribers."""
        return f"$share/{self.prefix}/{self.prefix}/send"

    @property
    def fleet_send(self) -> str:
        """Where clients publish jobs for any gateway."""
        return f"{self.prefix}/send"

    @property
    def own_send(self) -> str:
        return f"{self.base}/send"

    @property
    def notify_filter(self) -> str:
        return f"{self.base}/phone/+/notify"

    def event(self, type: str) -> str:
        return f"{self.base}/event/{type}"

    def sent(self, job_id: str) -> str:
        return f"{self.base}/sent/{job_id}"

    def phone(self, phone_id: int, leaf: str) -> str:
        return f"{self.base}/phone/{phone_id}/{leaf}"

    def notify_phone(self, topic: str) -> int | None:
        """The phone id of a ``…/phone/<id>/notify`` topic of this gateway; None for any other topic."""
        head, _, rest = topic.partition(f"{self.base}/phone/")
        if head or not rest.endswith("/notify"):
            return None
        digits = rest[: -len("/notify")]
        return int(digits) if digits.isdecimal() else None
