"""Webhook signatures: RaspiSMS's (HMAC of the random id) and Standard Webhooks headers (HMAC of the body).

Pure: no I/O. Both signatures are keyed with the same bytes, the user's API key as ASCII, so a RaspiSMS
receiver checks ``webhook_signature`` as it always did, and a Standard Webhooks library checks the
``webhook-signature`` header with the secret ``whsec(api_key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

__all__ = [
    "new_random_id",
    "raspisms_signature",
    "standard_headers",
    "standard_signature",
    "verify_raspisms",
    "verify_standard",
    "whsec",
]


def _key(api_key: str) -> bytes:
    # RaspiSMS keys are ASCII; a non-ASCII key is a config mistake that must not sign silently with
    # bytes the receiver would not use.
    return api_key.encode("ascii")


def new_random_id(timestamp: int) -> str:
    """``"<timestamp>-<32 lowercase hex>"``, as RaspiSMS builds ``webhook_random_id``."""
    return f"{int(timestamp)}-{secrets.token_hex(16)}"


def raspisms_signature(api_key: str, random_id: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``random_id`` keyed with the API key (PHP ``hash_hmac``)."""
    return hmac.new(_key(api_key), random_id.encode("utf-8"), hashlib.sha256).hexdigest()


def whsec(api_key: str) -> str:
    """The Standard Webhooks secret that designates the same key bytes: ``whsec_`` + base64."""
    return "whsec_" + base64.b64encode(_key(api_key)).decode("ascii")


def standard_signature(api_key: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp." + body>``."""
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(api_key), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_headers(api_key: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (``timestamp`` = the attempt's time)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": standard_signature(api_key, msg_id, timestamp, body),
    }


def verify_raspisms(api_key: str, random_id: str, signature: str) -> bool:
    """True when ``signature`` is the RaspiSMS signature of ``random_id`` (constant-time compare)."""
    expected = raspisms_signature(api_key, random_id)
    # compare_digest refuses non-ASCII str; a non-ASCII signature is simply wrong.
    try:
        return hmac.compare_digest(expected, signature.lower())
    except TypeError:
        return False


def verify_standard(
    api_key: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance: float | None = 300
) -> str | None:
    """Check Standard Webhooks headers; ``None`` when valid, else a short reason.

    ``tolerance`` bounds ``|now - webhook-timestamp|`` in seconds; ``None`` skips that check (a captured
    body verified long after the fact).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature") if not lower.get(h)]
    if missing:
        return "missing header " + ", ".join(missing)
    msg_id = lower["webhook-id"].strip()
    ts_text = lower["webhook-timestamp"].strip()
    if not ts_text.isdigit():
        return f"webhook-timestamp is not unix seconds: {ts_text!r}"
    timestamp = int(ts_text)
    if tolerance is not None and abs(now - timestamp) > tolerance:
        age = "old" if timestamp < now else "new"
        return f"webhook-timestamp too {age} ({int(now - timestamp)} s from now, tolerance {tolerance:g} s)"
    expected = base64.b64decode(standard_signature(api_key, msg_id, timestamp, body)[3:])
    # The header may carry several space-separated signatures (key rotation); any v1 match is enough.
    for candidate in lower["webhook-signature"].split():
        version, _, b64 = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return None
    return "webhook-signature mismatch (body, id or timestamp altered, or another key)"
