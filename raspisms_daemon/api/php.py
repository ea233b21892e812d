"""How PHP reads a request, where RaspiSMS's API depends on it. Pure: no I/O.

- :func:`parse_form`: form fields (urlencoded or multipart, and the query string) into PHP's
  ``$_POST``/``$_GET`` structure: ``a=1`` a scalar (a repeated name keeps its last value), ``a[]=``
  appends, ``a[k]=`` and ``a[i][k]=`` nest. Arrays are dicts in insertion order, numeric keys as ints.
- :func:`falsy`: PHP's truthiness (``""``, ``"0"``, ``[]`` and absent are false; ``empty()`` is the
  same for request values), which RaspiSMS uses for "missing".
- :func:`int_cast`: PHP's ``(int)`` of a string: its leading number, 0 when there is none, saturated
  to 64 bits as PHP does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from .decoding import INT64_MAX, Malformed
from .limits import MAX_DEPTH

__all__ = ["INT_MAX", "INT_MIN", "Upload", "falsy", "float_cast", "int_cast", "parse_form", "values_of"]

INT_MAX = INT64_MAX  # PHP_INT_MAX on 64 bits, and SQLite's largest integer
INT_MIN = -(2**63)
_INT_KEY = re.compile(r"^(0|-?[1-9][0-9]*)$")  # the keys PHP turns into integers (when they fit)
_LEADING_NUMBER = re.compile(r"^[ \t\n\r\v\f]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_INTEGER = re.compile(r"[+-]?[0-9]+")


class Upload(NamedTuple):
    """A file of a multipart form (PHP's ``$_FILES`` entry)."""

    filename: str
    content: bytes


def parse_form(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``[(name, value), …]`` in request order → PHP's array of them, in time linear in the pairs.
    Raises Malformed for a name nested more than ``MAX_DEPTH`` deep (PHP's ``max_input_nesting_level``
    is 64 too)."""
    out: dict[Any, Any] = {}
    next_index: dict[int, int] = {}  # id(array) → the index ``a[]`` appends at (PHP's nNextFreeElement)
    for name, value in pairs:
        base, keys = _split(name)
        if len(keys) >= MAX_DEPTH:
            raise Malformed(f"the field name {name[:40]}… is nested more than {MAX_DEPTH} deep")
        if base:
            _assign(out, base, keys, value, next_index)
    return out


def _split(name: str) -> tuple[str, list[str]]:
    """``numbers[0][number]`` → ``("numbers", ["0", "number"])``; a name with no well-formed bracket
    group is a plain name (PHP is the same, give or take its renaming of "." and " ")."""
    open_at = name.find("[")
    if open_at <= 0 or "]" not in name[open_at:]:
        return name, []
    base, rest, keys = name[:open_at], name[open_at:], []
    while rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            break
        keys.append(rest[1:close])
        rest = rest[close + 1 :]
    return base, keys


def _assign(
    container: dict[Any, Any], key: Any, keys: list[str], value: Any, next_index: dict[int, int]
) -> None:
    for head in keys:
        sub = container.get(key)
        if not isinstance(sub, dict):
            sub = {}
            container[key] = sub
            next_index.pop(id(sub), None)  # the id of an array dropped before may come back
        if head == "":
            index: Any = next_index.get(id(sub), 0)
        elif _INT_KEY.match(head) and len(head) <= 20 and INT_MIN <= int(head) <= INT_MAX:
            index = int(head)
        else:
            index = head
        if isinstance(index, int):
            known = next_index.get(id(sub))
            next_index[id(sub)] = index + 1 if known is None else max(known, index + 1)
        container, key = sub, index
    container[key] = value


def values_of(value: Any) -> list[Any]:
    """An array's values in order; a scalar as a one-item list (RaspiSMS wraps a scalar so); [] for
    absent. A JSON list stays as it is."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return [value]


def falsy(value: Any) -> bool:
    """PHP's ``!$value`` for what a request can carry."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return value in ("", "0")
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, dict | list):
        return not value
    return False


def float_cast(text: str) -> float:
    """PHP's ``(float)`` of a string: its leading number (``"12.5%"`` = 12.5, ``"abc"`` = 0, ``"1e999"``
    = INF); never NaN (PHP reads no "nan" or "inf" in a string)."""
    m = _LEADING_NUMBER.match(text)
    return float(m.group(1)) if m else 0.0


def int_cast(text: str) -> int:
    """PHP's ``(int)`` of a string: its leading number (``"12abc"`` = 12, ``"abc"`` = 0, ``"1e3"`` =
    1000, ``"1.9"`` = 1). A number that is not a 64-bit integer goes through a double, which PHP
    saturates (``"99999999999999999999"`` = ``PHP_INT_MAX``) or, when even a double overflows (309
    digits), makes 0. The result always fits a 64-bit integer, and so SQLite."""
    m = _LEADING_NUMBER.match(text)
    if not m:
        return 0
    number = m.group(1)
    if _INTEGER.fullmatch(number):
        digits = number.lstrip("+-").lstrip("0") or "0"
        if len(digits) <= 18:  # surely 64 bits (and int() refuses 4300 digits)
            return -int(digits) if number.startswith("-") else int(digits)
        if len(digits) == 19 and INT_MIN <= int(number) <= INT_MAX:
            return int(number)
    value = float(number)
    if math.isinf(value) or math.isnan(value):
        return 0
    if not -(2.0**63) <= value < 2.0**63:
        return INT_MAX if value > 0 else INT_MIN
    return int(value)
