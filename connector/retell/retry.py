"""When and how long to wait before asking Retell again (in the spirit of stamina).

Only transient failures are retried, bounded by attempts *and* total time, with jittered
exponential backoff; a ``Retry-After`` from Retell wins when it fits the budget. What counts
as safe to retry is the caller's decision (a read may retry a timeout; a create may not).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying one Retell request."""

    attempts: int = 3
    total_seconds: float = 20.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def delay(self, retry_number: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry ``retry_number`` (1-based), or None to give up.

        A ``Retry-After`` longer than ``max_retry_after`` means give up rather than hold the
        platform's request open.
        """
        if retry_number >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if 0 <= retry_after <= self.max_retry_after else None
        backoff: float = min(self.base_delay * 2.0 ** (retry_number - 1), self.max_delay)
        return backoff * (1 - 0.25 * random.random())

    @classmethod
    def testing(cls, attempts: int = 3) -> RetryPolicy:
        """A policy that retries without sleeping, for tests."""
        return cls(attempts=attempts, sleep=lambda _s: None)
