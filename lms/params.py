"""Ids and numbers read from query strings, forms and JSON bodies: a malformed one is a 400, never a 500.

Python's int() takes "٣", " 7 ", "1_000" and numbers beyond any database column; SQLite then
raises OverflowError and PostgreSQL "integer out of range", both 500s before this helper.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from flask import abort, request

MAX_ID = 2**31 - 1  # PostgreSQL's INTEGER, the smaller of our two databases
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(value: Any) -> int | None:
    """A database id (1 … 2^31-1) from text or a JSON number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_ID else None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value)
        return number if 1 <= number <= MAX_ID else None
    return None


def parse_int(value: Any, *, low: int = 0, high: int = MAX_ID) -> int | None:
    """A whole number within [low, high] from text or a JSON number, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?[0-9]{1,10}", text):
            return None
        value = int(text)
    if isinstance(value, int) and low <= value <= high:
        return value
    return None


def id_field(name: str, source: Mapping[str, Any] | None = None, *, required: bool = True) -> int | None:
    """The id named `name` in a form (default) or another mapping; 400 when missing or malformed."""
    data = request.form if source is None else source
    raw = data.get(name)
    if raw in (None, "") and not required:
        return None
    value = parse_id(raw)
    if value is None:
        abort(400)
    return value


def id_arg(name: str, *, required: bool = False) -> int | None:
    """An id in the query string: None when absent (unless required), 400 when malformed."""
    return id_field(name, request.args, required=required)
