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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, case, func, or_, select

from connector.store.tables import deliveries, delivery_attempts, events

__all__ = ["HOUR", "DayStats", "DeliveryStats"]

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


def _nearest_rank(count: ColumnElement[int], percent: int) -> ColumnElement[int]:
    """The nearest rank of ``percent`` among ``count`` (≥ 1) sorted values, 1-based."""
    return (count * percent + 99) // 100


def _latency_ranks(owner: str, first: float) -> Select[Any]:
    """Per hour, the deliveries at the p50 and p95 ranks of wait (event to 2xx).

    The database ranks them (window functions, on both backends) and returns two rows an
    hour, instead of every delivery of the day for Python to sort.
    """
    d = deliveries.c
    bucket = func.floor(d.delivered_at / HOUR)
    wait = d.delivered_at - d.created_at
    ranked = (
        select(
            bucket.label("bucket"),
            wait.label("wait"),
            func.row_number().over(partition_by=bucket, order_by=wait).label("rank"),
            func.count().over(partition_by=bucket).label("n"),
        )
        .where(d.owner == owner, d.delivered_at >= first)
        .subquery()
    )
    r = ranked.c
    at_p50, at_p95 = r.rank == _nearest_rank(r.n, 50), r.rank == _nearest_rank(r.n, 95)
    return select(r.bucket, r.wait, at_p50.label("p50"), at_p95.label("p95")).where(
        or_(at_p50, at_p95)
    )


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
            delivered = conn.execute(_latency_ranks(owner, first)).all()
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
        p50: list[float | None] = [None] * HOURS
        p95: list[float | None] = [None] * HOURS
        for bucket, wait, at_p50, at_p95 in delivered:
            if (i := index.get(int(bucket))) is None:
                continue
            if at_p50:
                p50[i] = max(0.0, float(wait))
            if at_p95:
                p95[i] = max(0.0, float(wait))
        return DayStats(
            hours=hours,
            events=counted,
            succeeded=succeeded,
            failed=failed,
            latency_p50=p50,
            latency_p95=p95,
            dead_letters=int(dead or 0),
        )
