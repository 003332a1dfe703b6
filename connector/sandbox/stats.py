"""Thread-safe counters behind ``GET /_sandbox/stats``, so tests and benchmarks can assert
what the connector actually did upstream (for example: exactly one create request)."""

from __future__ import annotations

import threading

__all__ = ["Stats"]

_NAMES = (
    "requests",
    "create_requests",
    "calls_created",
    "idempotent_replays",
    "faults_injected",
    "webhooks_sent",
    "webhooks_failed",
    "webhook_attempts",
)


class Stats:
    """Named counters, all starting at zero."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_NAMES, 0)

    def incr(self, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name`` (created on first use)."""
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + by

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._counts)
