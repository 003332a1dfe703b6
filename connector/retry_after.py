"""Reading a server's ``Retry-After`` (seconds or an HTTP date), for Retell and subscribers."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC

__all__ = ["retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After``; None if absent or garbled."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # HTTP dates are GMT even when the zone is missing
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - time.time())
