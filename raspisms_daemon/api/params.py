"""Reading request parameters (JSON object, urlencoded or multipart form) into plain Python values.

A form is read as PHP reads it (:func:`.php.parse_form`): ``a[]`` and ``a[i][k]`` build arrays (dicts
in order), a repeated plain name keeps its last value, a multipart file is an :class:`.php.Upload`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .envelope import ApiError, Code
from .php import Upload, parse_form, values_of

__all__ = ["bad", "missing", "opt_bool", "opt_int", "opt_str", "read_params", "str_list"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def bad(message: str) -> ApiError:
    return ApiError(400, Code.INVALID_PARAMETER, message)


def missing(message: str) -> ApiError:
    return ApiError(400, Code.MISSING_PARAMETER, message)


async def read_params(request: web.Request) -> dict[str, Any]:
    """The request's body parameters (the query string is not read: RaspiSMS reads ``$_POST``)."""
    ctype = request.content_type
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return parse_form((key, _form_value(value)) for key, value in form.items())
    raw = await request.read()
    if not raw.strip():
        return {}
    if ctype not in ("application/json", "application/octet-stream", "text/plain", ""):
        raise ApiError(
            415,
            Code.INVALID_PARAMETER,
            f"unsupported Content-Type {ctype}: send application/json or application/x-www-form-urlencoded",
        )
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"the body is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise bad("the JSON body must be an object")
    return obj


def _form_value(value: str | bytes | bytearray | web.FileField) -> str | Upload:
    if isinstance(value, str):
        return value
    if isinstance(value, web.FileField):
        return Upload(value.filename, value.file.read())
    return Upload("", bytes(value))


def opt_str(params: dict[str, Any], key: str, *, max_len: int = 1000) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{key} must be a string")
    if len(value) > max_len:
        raise bad(f"{key} is too long (at most {max_len} characters)")
    return value


def opt_int(params: dict[str, Any], key: str, *, minimum: int = 1) -> int | None:
    """None when absent or empty (RaspiSMS treats an empty id_phone as "any phone")."""
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad(f"{key} must be an integer")
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise bad(f"{key} must be an integer, not {value!r}")
        value = int(value)
    if not isinstance(value, int) or value < minimum:
        raise bad(f"{key} must be an integer of at least {minimum}")
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
