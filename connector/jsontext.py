"""Compact JSON text for what the connector stores and forwards, made by ``orjson``.

Forwarded events carry Retell's whole call object (often 8 KB or more); serialising it is
the largest single cost of ingest, and ``orjson`` does it about ten times faster than the
standard library. The few values ``orjson`` refuses (integers beyond 64 bits, lone
surrogates) fall back to the standard library, so every value that could be stored before
still can be, unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps"]


def dumps(value: Any) -> str:
    """``value`` as compact JSON text."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))  # escapes lone surrogates
