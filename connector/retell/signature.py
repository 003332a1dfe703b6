"""Retell's webhook signature (``x-retell-signature: v=<ms>,d=<hex>``), pure and Flask-free.

``d = HMAC-SHA256(key=api_key, msg=raw_body + str(ms))`` in lowercase hex, accepted within
five minutes either way. ``retell.lib.webhook_auth`` is the oracle in the tests; the service
does not depend on the SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

__all__ = ["TOLERANCE_MS", "SignatureError", "sign", "verify"]

TOLERANCE_MS = 5 * 60 * 1000
_HEADER = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")


class SignatureError(ValueError):
    """The one error for every way a signature can be missing, malformed, stale or wrong."""


def _digest(body: str, api_key: str, timestamp_ms: int) -> str:
    mac = hmac.new(api_key.encode(), (body + str(timestamp_ms)).encode(), hashlib.sha256)
    return mac.hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def sign(body: str, api_key: str, *, timestamp_ms: int | None = None) -> str:
    """Return the header value Retell would send for ``body``."""
    ts = _now_ms() if timestamp_ms is None else timestamp_ms
    return f"v={ts},d={_digest(body, api_key, ts)}"


def verify(
    body: bytes | str, api_key: str, header: str | None, *, now_ms: int | None = None
) -> int:
    """Check ``header`` against the raw ``body``; return the signed timestamp (ms).

    Matches the SDK exactly: lowercase hex only, whole-header match, ±5 min inclusive.
    """
    if not header:
        raise SignatureError("missing x-retell-signature header")
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        raise SignatureError("malformed x-retell-signature header")
    timestamp_ms, digest = int(match[1]), match[2]
    now = _now_ms() if now_ms is None else now_ms
    if abs(now - timestamp_ms) > TOLERANCE_MS:
        raise SignatureError("signature timestamp outside the five-minute tolerance")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise SignatureError("body is not UTF-8") from exc
    if not hmac.compare_digest(_digest(text, api_key, timestamp_ms), digest):
        raise SignatureError("signature does not match")
    return timestamp_ms
