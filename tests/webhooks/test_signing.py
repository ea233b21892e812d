"""Signing: known answers computed independently, and the standardwebhooks library as a second opinion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from raspisms_daemon.webhooks.signing import (
    new_random_id,
    raspisms_signature,
    standard_headers,
    verify_raspisms,
    verify_standard,
    whsec,
)

KEY = "0123456789abcdef0123456789abcdef"
BODY = b"webhook_timestamp=1700000000&webhook_type=receive_sms&body=%7B%22id%22%3A1%7D"


def test_random_id_is_timestamp_dash_32_lowercase_hex_and_unique() -> None:
    ids = {new_random_id(1700000000) for _ in range(200)}
    assert len(ids) == 200
    for rid in ids:
        assert re.fullmatch(r"1700000000-[0-9a-f]{32}", rid), rid


def test_raspisms_signature_matches_php_hash_hmac_known_answer() -> None:
    rid = "1700000000-00112233445566778899aabbccddeeff"
    expected = hmac.new(KEY.encode(), rid.encode(), hashlib.sha256).hexdigest()
    assert raspisms_signature(KEY, rid) == expected
    assert raspisms_signature(KEY, rid) == raspisms_signature(KEY, rid).lower()
    # A fixed vector, so a change of algorithm/encoding cannot go unnoticed.
    assert raspisms_signature("key", "The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_whsec_is_prefix_plus_base64_of_key_ascii() -> None:
    assert whsec(KEY) == "whsec_" + base64.b64encode(KEY.encode()).decode()
    assert base64.b64decode(whsec(KEY)[len("whsec_") :]) == KEY.encode()


def test_standard_headers_known_answer() -> None:
    headers = standard_headers(KEY, "msg_1", 1700000000, BODY)
    digest = hmac.new(KEY.encode(), b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def test_standardwebhooks_library_verifies_our_headers_and_signs_the_same() -> None:
    now = int(time.time())
    rid = new_random_id(now)
    headers = standard_headers(KEY, rid, now, BODY)
    library = Webhook(whsec(KEY))
    library.verify(BODY, headers, json_parse=False)  # raises if not valid
    at = datetime.fromtimestamp(now, tz=UTC)
    assert library.sign(rid, at, BODY.decode()) == headers["webhook-signature"]


@pytest.mark.parametrize("what", ["body", "timestamp", "id", "key"])
def test_tampering_fails_in_the_library_and_in_ours(what: str) -> None:
    now = int(time.time())
    rid = new_random_id(now)
    headers = standard_headers(KEY, rid, now, BODY)
    body, key = BODY, KEY
    if what == "body":
        body = BODY + b"x"
    elif what == "timestamp":
        headers["webhook-timestamp"] = str(now - 1)
    elif what == "id":
        headers["webhook-id"] = rid[:-1] + ("0" if rid[-1] != "0" else "1")
    else:
        key = KEY[::-1]
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec(key)).verify(body, headers, json_parse=False)
    reason = verify_standard(key, headers, body, now=now)
    assert reason is not None and "mismatch" in reason


def test_verify_standard_accepts_valid_headers_any_case() -> None:
    now = 1700000000
    headers = {k.upper(): v for k, v in standard_headers(KEY, "id1", now, BODY).items()}
    assert verify_standard(KEY, headers, BODY, now=now + 299) is None


def test_verify_standard_accepts_any_matching_signature_in_a_list() -> None:
    headers = standard_headers(KEY, "id1", 1700000000, BODY)
    headers["webhook-signature"] = "v1,AAAA v2,zzz " + headers["webhook-signature"]
    assert verify_standard(KEY, headers, BODY, now=1700000000) is None


def test_verify_standard_reports_missing_headers() -> None:
    reason = verify_standard(KEY, {"webhook-id": "x"}, BODY, now=0)
    assert reason == "missing header webhook-timestamp, webhook-signature"


def test_verify_standard_tolerance_too_old_too_new_and_off() -> None:
    headers = standard_headers(KEY, "id1", 1700000000, BODY)
    old = verify_standard(KEY, headers, BODY, now=1700000000 + 301)
    new = verify_standard(KEY, headers, BODY, now=1700000000 - 301)
    assert old is not None and "too old" in old
    assert new is not None and "too new" in new
    assert verify_standard(KEY, headers, BODY, now=1800000000, tolerance=None) is None


def test_verify_standard_rejects_non_numeric_timestamp() -> None:
    headers = standard_headers(KEY, "id1", 1700000000, BODY)
    headers["webhook-timestamp"] = "yesterday"
    reason = verify_standard(KEY, headers, BODY, now=1700000000)
    assert reason is not None and "timestamp" in reason


def test_verify_raspisms_accepts_only_the_right_signature() -> None:
    rid = new_random_id(1700000000)
    sig = raspisms_signature(KEY, rid)
    assert verify_raspisms(KEY, rid, sig)
    assert not verify_raspisms(KEY, rid, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not verify_raspisms(KEY, rid + "0", sig)
    assert not verify_raspisms("another-key-0000000", rid, sig)
    assert not verify_raspisms(KEY, rid, "é" * 64)
    assert not verify_raspisms(KEY, rid, "")
