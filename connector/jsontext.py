"""Compact JSON text for what the connector stores and forwards, made by ``orjson``.

Forwarded events carry Retell's whole call object (often 8 KB or more); parsing and
serialising it are the largest single costs of ingest, and ``orjson`` does them several
times faster than the standard library. Where ``orjson`` differs, the standard library
decides, so results are exactly what ``json`` gives: values ``orjson`` cannot write (integers
beyond 64 bits, lone surrogates) and text it will not read (NaN, lone surrogates, UTF-16) fall
back, and so does any text with a run of 19 or more digits, which might be an integer beyond
64 bits that ``orjson`` would read as a float.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

# Digits become "1" and everything else a space, so a run of 19 digits is a plain substring
# search (a regular expression for it costs more than parsing the whole body).
_DIGITS_AS_ONES = bytes(0x31 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_DIGITS = b"1" * 19


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))  # escapes lone surrogates


def loads(raw: bytes) -> Any:
    """Parse JSON bytes exactly as ``json.loads`` would (and fail where it fails)."""
    if _NINETEEN_DIGITS not in raw.translate(_DIGITS_AS_ONES):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)
