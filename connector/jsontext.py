"""Compact JSON text for what the connector stores and forwards, made by ``orjson``.

Forwarded events carry Retell's whole call object (often 8 KB or more); parsing and
serialising it are the largest single costs of ingest, and ``orjson`` does them several
times faster than the standard library. Where ``orjson`` differs, the standard library
decides, so results are exactly what ``json`` gives: values ``orjson`` cannot write (integers
beyond 64 bits, lone surrogates) and text it will not read (NaN, lone surrogates, UTF-16) fall
back, and so does any text with a run of 19 or more digits, which might be an integer beyond
64 bits that ``orjson`` would read as a float.

Every client body is parsed here, so nesting is capped here: arrays and objects more than
``MAX_DEPTH`` levels deep are refused with :class:`TooDeeplyNested` (a ``ValueError``)
instead of exhausting the standard library's recursion or ``orjson``'s 255-level writer
further down.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "TooDeeplyNested", "dumps", "loads"]

MAX_DEPTH = 128
"""Deepest nesting accepted: real call objects and requests stay under ten levels; a stored
body is forwarded wrapped one level deeper, still well within ``orjson``'s 255."""

# Digits become "1" and everything else a space, so a run of 19 digits is a plain substring
# search (a regular expression for it costs more than parsing the whole body).
_DIGITS_AS_ONES = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_DIGITS = b"1" * 19


class TooDeeplyNested(ValueError):
    """The JSON text nests arrays and objects more than ``MAX_DEPTH`` levels deep."""

    def __init__(self) -> None:
        super().__init__(f"arrays and objects are nested more than {MAX_DEPTH} levels deep")


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))  # escapes lone surrogates


def loads(raw: bytes, *, constants: bool = True) -> Any:
    """Parse JSON bytes exactly as ``json.loads`` would (and fail where it fails).

    Nesting deeper than ``MAX_DEPTH`` raises :class:`TooDeeplyNested`. ``constants=False``
    also refuses ``NaN`` and ``Infinity``, which the standard library reads but JSON lacks.
    """
    if _NINETEEN_DIGITS not in raw.translate(_DIGITS_AS_ONES):
        try:
            return _within_depth(orjson.loads(raw), raw)
        except orjson.JSONDecodeError:
            pass  # orjson also refuses more than 1024 levels: the standard library decides
    try:
        value = json.loads(raw, parse_constant=None if constants else _reject_constant)
    except RecursionError:
        raise TooDeeplyNested() from None
    return _within_depth(value, raw)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _within_depth(value: Any, raw: bytes) -> Any:
    """``value`` if it nests at most ``MAX_DEPTH`` levels, else TooDeeplyNested."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return value  # too few brackets to nest that deep: no need to walk the value
    # Level by level; parsers build exact dicts and lists, and ``type(...) is`` in one
    # comprehension is several times faster than ``isinstance`` in nested loops (an 8 KB
    # call with its transcript: about 35 µs instead of 85).
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise TooDeeplyNested()
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) is dict or type(item) is list
        ]
    return value
