"""A log line per event while events are few; a summary a second while they are many.

Every Retell call event used to write one INFO line. At a campaign's rate (a thousand
events a second across workers) that line cost about a tenth of an ingested event's CPU,
and a reader cannot follow a thousand lines a second anyway. So each second the first
``burst`` events are logged one by one, as before, and the rest are counted and written as
one summary line when the second ends (zap's sampling, the same idea). At DEBUG, every
event is logged one by one. Each event is kept in the store whatever is logged: the
console lists them all.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SampledLog"]


class SampledLog:
    """Logs the first ``burst`` lines of each ``window`` seconds at INFO; counts the others by
    the ``counts`` given with them and logs their totals once the window has ended."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        burst: int = 10,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what
        self._burst = burst
        self._window = window
        self._clock = clock
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a worker starts with none counted
        atexit.register(self.flush)  # before the log writer's last write (atexit is LIFO)

    def _reset(self) -> None:
        self._lock = threading.Lock()  # anew in a forked child: the parent's may be held
        self._window_ends = float("-inf")
        self._logged = 0
        self._held: Counter[str] = Counter()
        self._held_lines = 0
        self._timer: threading.Timer | None = None

    def info(self, counts: Mapping[str, int], message: str, *args: Any) -> None:
        """``message % args`` at INFO, or counted under ``counts`` if this window is full."""
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.info(message, *args)  # every line, as asked for
            return
        if not self._log.isEnabledFor(logging.INFO):
            return
        now = self._clock()
        ended: tuple[int, Counter[str]] | None = None
        with self._lock:
            if now >= self._window_ends:  # a new window: the last one's summary goes first
                self._window_ends, self._logged = now + self._window, 0
                ended = self._take_held()
            self._logged += 1
            write = self._logged <= self._burst
            if not write:
                self._held_lines += 1
                self._held.update(counts)
                if self._timer is None:  # the summary, written when this window ends
                    self._timer = threading.Timer(self._window_ends - now, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
        if ended:
            self._summarise(*ended)
        if write:
            self._log.info(message, *args)

    def flush(self) -> None:
        """Log the summary of the lines held back, if any (the timer's call)."""
        with self._lock:
            ended = self._take_held()
        if ended:
            self._summarise(*ended)

    def _take_held(self) -> tuple[int, Counter[str]] | None:
        lines, held = self._held_lines, self._held
        self._held_lines, self._held = 0, Counter()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return (lines, held) if lines else None

    def _summarise(self, lines: int, held: Counter[str]) -> None:
        totals = ", ".join(f"{count:,} {name}" for name, count in held.items())
        self._log.info(
            "%s more %s within %s s, not logged one by one (%s)",
            f"{lines:,}",
            self._what,
            f"{self._window:g}",
            totals,
        )
