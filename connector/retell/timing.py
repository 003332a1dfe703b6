"""Time the current request spent waiting for Retell, sent back as ``Server-Timing``.

When an action is slow, the header tells a platform user (and the benchmark) how much of
it was Retell and how much the connector. A context variable keeps each request's total
apart from the other requests served at the same time by the worker's threads.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["add", "reset", "server_timing"]

_spent_ms: ContextVar[float] = ContextVar("retell_spent_ms", default=0.0)


def reset() -> None:
    """Start counting for a new request."""
    _spent_ms.set(0.0)


def add(milliseconds: float) -> None:
    """Count one request to Retell (every attempt, whatever its outcome)."""
    _spent_ms.set(_spent_ms.get() + milliseconds)


def server_timing() -> str | None:
    """The ``Server-Timing`` value for this request, or None if it never called Retell."""
    spent = _spent_ms.get()
    return f'retell;dur={spent:.1f};desc="Retell API"' if spent > 0 else None
