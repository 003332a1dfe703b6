"""One clock thread for every call: a heap of due callbacks, not a thread or timer per call."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


class Scheduler:
    """Runs callbacks at their due time on a single daemon thread, started on first use.

    Callbacks must be quick (they only update state and queue webhooks); an exception in one
    is logged and never stops the clock.
    """

    def __init__(self, name: str = "retell-sandbox-clock") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay`` seconds (ignored once closed)."""
        with self._cond:
            if self._closed:
                return
            due = time.monotonic() + max(delay, 0.0)
            heapq.heappush(self._heap, (due, next(self._order), callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        """How many callbacks are still waiting."""
        with self._cond:
            return len(self._heap)

    def close(self, timeout: float = 5.0) -> None:
        """Drop what is pending and stop the thread."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> Callable[[], None] | None:
        """Wait for the next due callback; None once closed."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    return heapq.heappop(self._heap)[2]
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def _run(self) -> None:
        while (callback := self._next()) is not None:
            try:
                callback()
            except Exception:  # the clock must keep ticking for the other calls
                log.exception("sandbox lifecycle step failed")
