"""Concurrency as Retell counts it: calls from the dial until they end, against a limit.

Retell lets a workspace have ``concurrency_limit`` calls at once (20 on pay-as-you-go),
of which ``reserved_inbound_concurrency`` are kept for inbound calls. An outbound call
placed over the limit is still created (201) and then ends at once with
``disconnection_reason = concurrency_limit_reached``; the sandbox does the same, or,
configured with ``concurrency_over_limit="429"``, answers the create with a 429 and
creates nothing (Retell's documentation leaves open which of the two a client meets).

A call counts from its create until it ends (``call_ended``), connected or not; a call
refused for the limit never counts. ``Concurrency`` also keeps what tests and benchmarks
measure a dialer by: the highest concurrency it ever saw, and each admitted call's dial and
end instants (busy call-seconds, hence utilisation = busy ÷ (limit x makespan)).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.sandbox.scripts import Script

__all__ = ["HISTORY", "OVER_LIMIT", "OVER_LIMIT_MODES", "Concurrency", "Occupancy"]

OVER_LIMIT_MODES = ("end", "429")
"""``end``: create the call, then end it with ``concurrency_limit_reached`` (Retell's way);
``429``: refuse the create."""

OVER_LIMIT = Script(
    None, "over the concurrency limit", "error", "concurrency_limit_reached", None, "Unknown", False
)
"""What happens to a call placed over the limit: it never connects."""

HISTORY = 100_000
"""How many calls' dial and end instants are kept for ``report`` (totals cover every call)."""


@dataclass
class Occupancy:
    """One admitted call's slot: when it was dialled and when it ended (unix seconds)."""

    call_id: str
    dialed_at: float
    ended_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        busy = None if self.ended_at is None else self.ended_at - self.dialed_at
        return {
            "call_id": self.call_id,
            "dialed_at": self.dialed_at,
            "ended_at": self.ended_at,
            "busy_seconds": busy,
        }


class Concurrency:
    """Thread-safe slot accounting for one account: admit at dial, release at the end."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, Occupancy] = {}
        self._history: deque[Occupancy] = deque(maxlen=HISTORY)
        self._highest = 0
        self._over_limit = 0
        self._busy_seconds = 0.0
        self._admitted = 0
        self._first_dial: float | None = None
        self._last_end: float | None = None

    def admit(self, call_id: str, limit: int) -> bool:
        """Take a slot for a new call if fewer than ``limit`` are in progress; False if not."""
        with self._lock:
            if len(self._active) >= limit:
                self._over_limit += 1
                return False
            slot = Occupancy(call_id, self._clock())
            self._active[call_id] = slot
            self._history.append(slot)
            self._admitted += 1
            self._highest = max(self._highest, len(self._active))
            if self._first_dial is None:
                self._first_dial = slot.dialed_at
            return True

    def release(self, call_id: str) -> None:
        """The call ended: free its slot (a call that never had one is ignored)."""
        with self._lock:
            slot = self._active.pop(call_id, None)
            if slot is None:
                return
            slot.ended_at = self._clock()
            self._busy_seconds += slot.ended_at - slot.dialed_at
            self._last_end = max(self._last_end or slot.ended_at, slot.ended_at)

    def current(self) -> int:
        """Calls in progress now."""
        with self._lock:
            return len(self._active)

    def highest(self) -> int:
        """The most calls ever in progress at once (since the last ``reset``)."""
        with self._lock:
            return self._highest

    def reset(self) -> None:
        """Start measuring afresh (between benchmark rounds); calls in progress stay counted."""
        with self._lock:
            self._history = deque(self._active.values(), maxlen=HISTORY)
            self._highest = len(self._active)
            self._over_limit = 0
            self._busy_seconds = 0.0
            self._admitted = len(self._active)
            dials = [slot.dialed_at for slot in self._active.values()]
            self._first_dial = min(dials) if dials else None
            self._last_end = None

    def report(self, *, calls: bool = True) -> dict[str, Any]:
        """Figures for tests: current, highest, refused, busy call-seconds, and per call."""
        with self._lock:
            body: dict[str, Any] = {
                "current": len(self._active),
                "highest": self._highest,
                "admitted": self._admitted,
                "over_limit": self._over_limit,
                "busy_seconds": self._busy_seconds,
                "first_dial_at": self._first_dial,
                "last_end_at": self._last_end,
            }
            if calls:
                body["calls"] = [slot.as_json() for slot in self._history]
            return body
