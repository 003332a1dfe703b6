"""The last day of deliveries in hourly buckets, for the console's overview (issue 12).

Every read is a range over an index on a time column (migration 0004), so the cost grows
with the day's traffic, not with the table: events by ``received_at``; attempts by ``at``
(joined to their delivery for the owner); successful deliveries by ``(owner,
delivered_at)`` for latency, measured from the event's arrival to the subscriber's 2xx.
Events are the Retell account's, shared by every token; attempts and deliveries are the
owner's alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, case, func, select

from connector.store.tables import deliveries, delivery_attempts, events

__all__ = ["HOUR", "DayStats", "DeliveryStats", "percentile"]

HOUR = 3600.0
HOURS = 24


@dataclass(frozen=True)
class DayStats:
    """24 hourly buckets, oldest first; ``hours[i]`` is the bucket's start (unix seconds)."""

    hours: list[float]
    events: list[int]
    succeeded: list[int]
    failed: list[int]
    latency_p50: list[float | None]  # seconds from event to 2xx, per hour
    latency_p95: list[float | None]
    dead_letters: int


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class DeliveryStats:
    """Aggregates over the last 24 hours for one owner."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def day(self, owner: str) -> DayStats:
        now = self._clock()
        first = math.floor(now / HOUR) * HOUR - (HOURS - 1) * HOUR
        hours = [first + i * HOUR for i in range(HOURS)]
        e, a, d = events.c, delivery_attempts.c, deliveries.c
        event_bucket = func.floor(e.received_at / HOUR)
        attempt_bucket = func.floor(a.at / HOUR)
        ok = case((a.status_code.between(200, 299), 1), else_=0)
        with self._engine.connect() as conn:
            per_event = conn.execute(
                select(event_bucket, func.count())
                .where(e.received_at >= first)
                .group_by(event_bucket)
            ).all()
            # EXISTS, not a join: the planner then walks attempts by time (index on ``at``)
            # and looks each delivery up by key, rather than walking all the owner's deliveries.
            owned = select(d.id).where(d.id == a.delivery_id, d.owner == owner).exists()
            per_attempt = conn.execute(
                select(attempt_bucket, ok, func.count())
                .where(a.at >= first, owned)
                .group_by(attempt_bucket, ok)
            ).all()
            delivered = conn.execute(
                select(d.delivered_at, d.delivered_at - d.created_at).where(
                    d.owner == owner, d.delivered_at >= first
                )
            ).all()
            dead = conn.execute(
                select(func.count())
                .select_from(deliveries)
                .where(d.owner == owner, d.state == "dead")
            ).scalar()
        index = {int(h / HOUR): i for i, h in enumerate(hours)}
        counted = [0] * HOURS
        for bucket, count in per_event:
            if (i := index.get(int(bucket))) is not None:
                counted[i] += int(count)
        succeeded, failed = [0] * HOURS, [0] * HOURS
        for bucket, good, count in per_attempt:
            if (i := index.get(int(bucket))) is not None:
                (succeeded if good else failed)[i] += int(count)
        waits: list[list[float]] = [[] for _ in range(HOURS)]
        for delivered_at, latency in delivered:
            if (i := index.get(int(delivered_at // HOUR))) is not None:
                waits[i].append(max(0.0, float(latency)))
        for bucket in waits:
            bucket.sort()
        return DayStats(
            hours=hours,
            events=counted,
            succeeded=succeeded,
            failed=failed,
            latency_p50=[percentile(w, 0.5) for w in waits],
            latency_p95=[percentile(w, 0.95) for w in waits],
            dead_letters=int(dead or 0),
        )
