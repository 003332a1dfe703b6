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
import re
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_MAYBE_HUGE_INTEGER = re.compile(rb"\d{19}")


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))  # escapes lone surrogates


def loads(raw: bytes) -> Any:
    """Parse JSON bytes exactly as ``json.loads`` would (and fail where it fails)."""
    if not _MAYBE_HUGE_INTEGER.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)
