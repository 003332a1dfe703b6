"""How many calls the connector may have in flight: Retell's concurrency, read every few seconds.

    budget = min(CONNECTOR_MAX_CONCURRENT_CALLS if set,
                 concurrency_limit - reserved_inbound_concurrency - calls in flight not ours)

Retell's ``GET /get-concurrency`` is read at most every ``refresh_seconds`` (not per call).
"Not ours" is Retell's ``current_concurrency`` less this connector's own in-flight count taken
at the same moment (never below zero: our calls that ended at Retell but whose end has not
reached us yet make ours look larger). Until Retell has answered once, only the configured
maximum is used, or nothing is dialled when none is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.retell.client import RetellClient
from connector.retell.errors import RetellError

__all__ = ["CapacityGauge", "Reading", "budget_from"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """One answer of ``/get-concurrency`` with our own in-flight count beside it."""

    limit: int
    reserved_inbound: int
    current: int
    ours: int

    @property
    def foreign(self) -> int:
        return max(0, self.current - self.ours)


def budget_from(reading: Reading | None, maximum: int | None) -> int:
    """Calls this connector may have in flight in all (pure; see the module docstring)."""
    if reading is None:
        return maximum or 0
    room = max(0, reading.limit - reading.reserved_inbound - reading.foreign)
    return room if maximum is None else min(maximum, room)


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class CapacityGauge:
    """The budget, refreshed from Retell every ``refresh_seconds``; shared by a dialer's threads."""

    def __init__(
        self,
        retell: RetellClient,
        ours: Callable[[], int],
        *,
        maximum: int | None = None,
        refresh_seconds: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._retell = retell
        self._ours = ours
        self._maximum = maximum
        self._refresh = refresh_seconds
        self._clock = clock
        self._reading: Reading | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def reading(self) -> Reading | None:
        return self._reading

    def stale(self) -> None:
        """Read Retell again at the next ``budget`` (it turned a call away at its limit)."""
        self._read_at = float("-inf")

    def budget(self) -> int:
        with self._lock:
            if self._clock() - self._read_at >= self._refresh:
                self._read_at = self._clock()
                self._read()
            return budget_from(self._reading, self._maximum)

    def _read(self) -> None:
        try:
            ours = self._ours()
            body = self._retell.get_concurrency()
        except RetellError as exc:
            log.warning("could not read Retell's concurrency (%s); keeping the last figures", exc)
            return
        limit = body.get("concurrency_limit")
        if not isinstance(limit, int) or isinstance(limit, bool):
            log.warning("Retell's /get-concurrency has no concurrency_limit; keeping the last")
            return
        self._reading = Reading(
            limit=limit,
            reserved_inbound=_int(body, "reserved_inbound_concurrency"),
            current=_int(body, "current_concurrency"),
            ours=ours,
        )
