"""Property: no request gets a 500. Hypothesis writes requests to every route of a real server (path
segments, query strings and bodies of every kind, valid and broken, in every Content-Type); each answer
must be JSON (the envelope; ``/healthz`` its own) with a status below 500, and the log hold no error."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from .conftest import API_KEY, Api, api_server

ROUTES = [
    ("GET", "/api/list/{}/"),
    ("GET", "/api/list/{}/{}/"),
    ("GET", "/api/list/{}/after/{}/"),
    ("GET", "/api/list/{}/before/{}/"),
    ("POST", "/api/scheduled/"),
    ("DELETE", "/api/scheduled/{}/"),
    ("GET", "/api/send-sms/"),
    ("GET", "/api/usage/"),
    ("GET", "/api/stats/sms-status/"),
    ("GET", "/api/invalid_number/{}/"),
    ("POST", "/api/phone/{}/status/"),
    ("POST", "/api/phone/{}/status/force/"),
    ("GET", "/api/webhooks/{}/"),
    ("POST", "/api/webhooks/"),
    ("DELETE", "/api/webhooks/{}/"),
    ("POST", "/api/webhooks/{}/enable"),
    ("GET", "/api/deliveries/"),
    ("GET", "/api/deliveries/{}/"),
    ("POST", "/api/deliveries/{}/replay"),
    ("POST", "/api/phones/{}/disable"),
    ("POST", "/api/smsstop/"),
    ("DELETE", "/api/smsstop/{}/"),
    ("PUT", "/api/scheduled/"),
    ("GET", "/healthz"),
]
FIELDS = [
    "text", "numbers", "numbers[]", "numbers[0][number]", "numbers[0][data]", "numbers[a][b][c]", "at",
    "id_phone", "id_phone_group", "flash", "mms", "tag", "contacts[]", "to", "start", "end", "volume",
    "percent_failed", "percent_unknown", "limit", "state", "webhook", "status", "name", "url", "types",
    "format", "number", "reason", "api_key", "api_key[]",
]  # fmt: skip
TRICKY = [
    "0", "1", "2", "-1", "99999999999999999999", "9" * 400, "١", "١٢", "１", "1e3", " 1", "%",
    "+33612345678", "+33 6 12 34 56 78", "0612345678", "", " ", "\t", "{{ contact.x }}", "{% for %}",
    "2030-01-01 00:00:00", "yesterday", "sended", "received", "scheduled", "phone", "phone_group", "call",
    "available", "disabled", "http://127.0.0.1:1/x", "\ud800", "\x00", "null", "[]", "{}", '{"a": 1}',
]  # fmt: skip
RAW_SEGMENTS = ["%FF", "%ED%A0%80", "%C0%80", "%00", "%2F", "..", "%25", "%D9%A3", "%EF%BC%91"]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=iso-8859-1",
    "application/x-www-form-urlencoded; charset=klingon",
    "multipart/form-data; boundary=b0undary",
    "multipart/form-data",
    "text/plain",
    "application/xml",
]

values = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12), st.integers().map(str))
segments = st.one_of(
    st.sampled_from(TRICKY).map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
    st.sampled_from(RAW_SEGMENTS),
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"), max_size=8
    ),
)
pairs = st.lists(st.tuples(st.sampled_from(FIELDS), values), max_size=6)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), values)
json_values = st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(values, c, max_size=3)
)


def _encode(items: list[tuple[str, str]]) -> bytes:
    return urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in items]).encode()


def _multipart(items: list[tuple[str, str]], raw_tail: bytes) -> bytes:
    parts = [
        b'--b0undary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (k.encode(), v.encode("utf-8", "surrogatepass"))
        for k, v in items
    ]
    return b"".join(parts) + raw_tail + b"--b0undary--\r\n"


bodies = st.one_of(
    st.just(b""),
    pairs.map(_encode),
    st.tuples(pairs, st.binary(max_size=20)).map(lambda t: _encode(t[0]) + b"&" + t[1]),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(
        lambda d: json.dumps(d, ensure_ascii=True).encode()
    ),
    st.tuples(pairs, st.binary(max_size=30)).map(lambda t: _multipart(*t)),
    st.binary(max_size=60),
)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Api]:
    async with api_server(tmp_path) as api:
        yield api


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    path_args=st.lists(segments, min_size=2, max_size=2),
    query=st.tuples(pairs, st.sampled_from(["", "&%FF", "&a[", "&a[]]=1", "&=&&", "&text=%ED%A0%80"])),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    auth=st.sampled_from(["header", "query", "none"]),
)
async def test_no_request_gets_a_500(
    served: Api,
    caplog: pytest.LogCaptureFixture,
    route: tuple[str, str],
    path_args: list[str],
    query: tuple[list[tuple[str, str]], str],
    body: bytes,
    content_type: str | None,
    auth: str,
) -> None:
    method, template = route
    items, raw_tail = query
    if auth == "query":
        items = [("api_key", API_KEY), *items]
    query_string = _encode(items).decode() + raw_tail
    url = URL(
        served.base + template.format(*path_args) + ("?" + query_string if query_string else ""), encoded=True
    )
    headers = {"X-Api-Key": API_KEY} if auth == "header" else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        async with served.session.request(method, url, data=body, headers=headers) as resp:
            status, text = resp.status, await resp.text()
    assert status < 500, (status, text)
    answer: Any = json.loads(text)
    assert isinstance(answer, dict) and ("error" in answer or template == "/healthz"), text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
    assert "Traceback" not in caplog.text
