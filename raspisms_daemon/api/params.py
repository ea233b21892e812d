"""Reading a request's parameters (query string, JSON object, urlencoded or multipart form) into plain
Python values, strictly (:mod:`.decoding`): what cannot be read is a 400 naming the field, never a
500 nor a "�" stored.

A form or a query string is read as PHP reads it (:func:`.php.parse_form`): ``a[]`` and ``a[i][k]``
build arrays (dicts in order), a repeated plain name keeps its last value, a multipart file is an
:class:`.php.Upload`. A multipart part is taken as its raw bytes, as PHP takes it (no
Content-Transfer-Encoding). The body must arrive within the body timeout (408 otherwise); while it
arrives the connection counts as "reading" for the connection guard (:mod:`.guard`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from . import decoding
from .decoding import decimal_id
from .envelope import ApiError, Code
from .guard import GUARD
from .limits import MAX_BODY, MAX_FORM_FIELDS
from .php import INT_MAX, Upload, parse_form, values_of

__all__ = [
    "FORM_TYPES",
    "bad",
    "missing",
    "opt_bool",
    "opt_int",
    "opt_str",
    "read_body",
    "read_form",
    "read_params",
    "read_query",
    "str_list",
]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
JSON_TYPES = ("application/json", "application/octet-stream", "text/plain", "")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: "٣" is not 3


def _request_key(name: str) -> Any:
    """A key of the request's storage: a ``web.RequestKey`` where aiohttp has them (3.14 on, where a
    plain str draws a warning), else a str."""
    make = getattr(web, "RequestKey", None)
    return make(name, object) if make is not None else f"raspisms_daemon.{name}"


# What the auth middleware and then the handler read, read once (a multipart body can be read only once).
_FORM = _request_key("form")
_QUERY = _request_key("query")

FormValue = str | Upload
T = TypeVar("T")
OFF_LOOP_BYTES = 64 * 1024


def bad(message: str) -> ApiError:
    return ApiError(400, Code.INVALID_PARAMETER, message)


def missing(message: str) -> ApiError:
    return ApiError(400, Code.MISSING_PARAMETER, message)


def read_query(request: web.Request) -> dict[str, Any]:
    """The query string as PHP's ``$_GET``, read from its raw form (aiohttp's own reading turns
    undecodable bytes into "�")."""
    if _QUERY not in request:
        pairs = decoding.urlencoded(request.rel_url.raw_query_string, what="query string")
        request[_QUERY] = parse_form(pairs)
    query: dict[str, Any] = request[_QUERY]
    return query


async def read_body(request: web.Request) -> bytes:
    """The whole body (at most ``MAX_BODY`` bytes: 413), within the body timeout."""
    async with _receiving(request):
        return await request.read()


async def read_form(request: web.Request) -> list[tuple[str, FormValue]]:
    """A form body's fields in order (none for another Content-Type), read once per request."""
    if _FORM not in request:
        pairs: list[tuple[str, FormValue]] = []
        if request.content_type == "application/x-www-form-urlencoded":
            body = await read_body(request)
            pairs = list(await _off_loop(len(body), decoding.urlencoded, body, request.charset or "utf-8"))
        elif request.content_type == "multipart/form-data":
            pairs = await _multipart(request)
        request[_FORM] = pairs
    form: list[tuple[str, FormValue]] = request[_FORM]
    return form


async def read_params(request: web.Request) -> dict[str, Any]:
    """The request's body parameters (the query string is not read: RaspiSMS reads ``$_POST``)."""
    ctype = request.content_type
    if ctype in FORM_TYPES:
        form = await read_form(request)
        return await _off_loop(len(form) * 32, parse_form, form)
    raw = await read_body(request)
    if not raw.strip():
        return {}
    if ctype not in JSON_TYPES:
        raise ApiError(
            415,
            Code.INVALID_PARAMETER,
            f"unsupported Content-Type {ctype}: send application/json or application/x-www-form-urlencoded",
        )
    obj = await _off_loop(len(raw), decoding.json_value, raw)
    if not isinstance(obj, dict):
        raise bad("the JSON body must be an object")
    return obj


async def _off_loop(size: int, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` in a thread when ``size`` (bytes, about) makes it long enough to hold the
    event loop: a 1 MiB body takes tens of milliseconds on a PC, more on a Pi."""
    if size > OFF_LOOP_BYTES:
        return await asyncio.to_thread(func, *args)
    return func(*args)


@contextlib.asynccontextmanager
async def _receiving(request: web.Request) -> AsyncIterator[None]:
    """Receiving the body: bounded in time, counted as "reading" by the guard, a client gone or a
    broken transfer encoding answered as such (no traceback)."""
    guard = request.app[GUARD]
    with guard.reading(request):
        try:
            async with asyncio.timeout(guard.limits.body_timeout):
                yield
        except TimeoutError:
            raise ApiError(
                408, Code.INVALID_PARAMETER, f"the body did not arrive within {guard.limits.body_timeout:g} s"
            ) from None
        except ConnectionResetError:
            raise bad("the connection closed before the whole body arrived") from None
        except web.RequestPayloadError as exc:
            raise bad(f"the body cannot be read: {exc}") from None


async def _multipart(request: web.Request) -> list[tuple[str, FormValue]]:
    if (request.content_length or 0) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length or 0)
    pairs: list[tuple[str, FormValue]] = []
    async with _receiving(request):
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise decoding.Malformed("a multipart body inside a multipart form is not read")
                if len(pairs) >= MAX_FORM_FIELDS:
                    raise decoding.Malformed(f"the form has more than {MAX_FORM_FIELDS} fields")
                if not part.name:
                    raise decoding.Malformed(
                        "a multipart part has no name (Content-Disposition: form-data; name=…)"
                    )
                name = decoding.text(part.name, "a multipart part's name")
                data = bytearray()
                while chunk := await part.read_chunk():
                    data.extend(chunk)
                    if request.content.total_bytes > MAX_BODY:
                        raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content.total_bytes)
                if part.filename is not None:
                    pairs.append((name, Upload(decoding.text(part.filename, name), bytes(data))))
                else:
                    pairs.append((name, _part_text(bytes(data), part.get_charset("utf-8"), name)))
        except (decoding.Malformed, web.HTTPException):
            raise
        except (ValueError, RuntimeError) as exc:  # aiohttp's reader on a malformed body
            raise decoding.Malformed(f"the multipart body is malformed: {exc}") from None
    return pairs


def _part_text(data: bytes, charset: str, name: str) -> str:
    try:
        shown = codecs.lookup(charset).name.upper()
    except LookupError:
        raise decoding.Malformed(f"{name}: unknown charset {charset[:40]!r}") from None
    try:
        return decoding.text(data.decode(charset), name)
    except UnicodeDecodeError:
        raise decoding.Malformed(f"{name}: not valid {shown} text") from None


def opt_str(params: dict[str, Any], key: str, *, max_len: int = 1000) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{key} must be a string")
    if len(value) > max_len:
        raise bad(f"{key} is too long (at most {max_len} characters)")
    return value


def opt_int(params: dict[str, Any], key: str, *, minimum: int = 1, maximum: int = INT_MAX) -> int | None:
    """None when absent or empty (RaspiSMS treats an empty id_phone as "any phone")."""
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad(f"{key} must be an integer")
    if isinstance(value, str):
        value = value.strip()
        if not _INTEGER.fullmatch(value):
            raise bad(f"{key} must be an integer, not {value[:40]!r}")
        magnitude = decimal_id(value.removeprefix("-"))
        if magnitude is None:  # past 64 bits: out of any range asked here
            magnitude = INT_MAX + 1
        value = -magnitude if value.startswith("-") else magnitude
    if not isinstance(value, int):
        raise bad(f"{key} must be an integer")
    if value < minimum:
        raise bad(f"{key} must be at least {minimum}")
    if value > maximum:
        raise bad(f"{key} must be at most {maximum}")
    return value


def opt_bool(params: dict[str, Any], key: str, default: bool = False) -> bool:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise bad(f"{key} must be a boolean (true/false, 1/0)")


def str_list(params: dict[str, Any], key: str) -> list[str]:
    """A list given as a JSON array, ``key[]``, or one comma-separated string."""
    value = params.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | dict):
        items = []
        for item in values_of(value):
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise bad(f"{key} must be a list of strings")
            items.extend(str(item).split(","))
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [str(value)]
    else:
        raise bad(f"{key} must be a list or a comma-separated string")
    return [item.strip() for item in items if item.strip()]
