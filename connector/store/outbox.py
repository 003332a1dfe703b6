"""The delivery queue: leased claims, outcomes, backoff, dead letters and replay.

At-least-once: a claim is a lease; if the worker dies, the lease runs out and the delivery
is claimed again. Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (several workers and
replicas share the queue without handing out the same row) and ``BEGIN IMMEDIATE`` on
SQLite. An outcome is recorded only by the worker still holding the lease, so a slow worker
whose lease was taken over cannot overwrite the newer attempt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, Engine, bindparam, func, select, update

from connector.store.delivery_rows import delivery_rows
from connector.store.driver_sql import DriverSql
from connector.store.failing_streak import END_STREAKS, settle_started_streak, start_streak
from connector.store.subscriptions import cancel_queued
from connector.store.tables import deliveries, delivery_attempts, events, subscriptions

__all__ = ["DeliveryQueue", "Job", "Outcome"]

DAY = 86_400.0
MAX_RETRY_AFTER = DAY

# The hot statements, which a delivery loop runs for every claim and every batch of
# outcomes, are built once and run as driver SQL: building a Core statement costs more CPU
# than running it, and SQLAlchemy's per-statement path about as much again.
_c = deliveries.c
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)

# Leases that ran out (a dead worker's claims), then due deliveries, oldest first: two
# index-backed queries rather than one OR, which would scan the whole table.
_EXPIRED = DriverSql(
    select(_c.id)
    .where(_c.state == "delivering", _c.lease_until < bindparam("now"))
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_DUE = DriverSql(
    select(_c.id)
    .where(_c.state == "pending", _c.next_attempt_at <= bindparam("now"))
    .order_by(_c.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_LEASE = DriverSql(
    update(deliveries)
    .where(_c.id.in_(_IDS))
    .values(state="delivering", lease_until=bindparam("until"), leased_by=bindparam("worker"))
)
_CLAIMED = DriverSql(
    delivery_rows(
        _c.id,
        _c.event_id,
        _c.subscription_id,
        _c.attempts,
        events.c.body,
        subscriptions.c.target_url,
        subscriptions.c.secret,
        subscriptions.c.status,
    ).where(_c.id.in_(_IDS))
)
# Hands back a claimed delivery whose subscription went away or was disabled (executemany).
_DROP = DriverSql(
    update(deliveries)
    .where(_c.id == bindparam("b_id"))
    .values(state=bindparam("b_state"), lease_until=None, leased_by=None)
)
# The deliveries of a batch of outcomes that ``worker`` still holds, with their
# subscription's failing streak (so a success need not clear a streak that is not there),
# locked in id order (``settle_started_streak`` waits on them in the same order).
_HELD = DriverSql(
    select(_c.id, _c.attempts, _c.cycle_start, subscriptions.c.failing_since)
    .select_from(deliveries.outerjoin(subscriptions, subscriptions.c.id == _c.subscription_id))
    .where(_c.id.in_(_IDS), _c.leased_by == bindparam("worker"), _c.state == "delivering")
    .order_by(_c.id)
    .with_for_update(of=deliveries)
)
_ATTEMPT = DriverSql(delivery_attempts.insert())
# Settles one attempted delivery; executed for many rows at once (executemany).
_SETTLE = DriverSql(
    update(deliveries)
    .where(_c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        lease_until=None,
        leased_by=None,
        last_status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next"),
        delivered_at=bindparam("b_delivered"),
    )
)


@dataclass(frozen=True)
class Job:
    """One claimed delivery with everything needed to send it."""

    delivery_id: str
    event_id: str
    subscription_id: str
    target_url: str
    secret: str
    body: str
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """What one attempt got back (``status_code`` None when no response came).

    ``permanent`` marks a failure that no retry can mend (the SSRF guard refused the address
    the target resolves to): the delivery becomes a dead letter at once, its error kept.
    """

    status_code: int | None
    duration_ms: float
    error: str | None = None
    response_body: str | None = None
    retry_after: float | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


class DeliveryQueue:
    """The outbox of deliveries, shared by every worker through the database."""

    def __init__(
        self,
        engine: Engine,
        *,
        schedule: Sequence[float],
        lease_seconds: float = 60.0,
        disable_after_seconds: float = 5 * DAY,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = lambda: random.uniform(1.0, 1.25),
    ) -> None:
        self._engine = engine
        self._schedule = tuple(schedule)
        self._lease = lease_seconds
        self._disable_after = disable_after_seconds
        self._clock = clock
        self._jitter = jitter

    @property
    def max_attempts(self) -> int:
        return len(self._schedule) + 1

    def claim(self, worker: str, limit: int) -> list[Job]:
        """Lease up to ``limit`` due deliveries to ``worker``."""
        now = self._clock()
        with self._engine.begin() as conn:
            ids = list(_EXPIRED.run(conn, {"now": now, "limit": limit}).scalars())
            if len(ids) < limit:
                ids += _DUE.run(conn, {"now": now, "limit": limit - len(ids)}).scalars()
            if not ids:
                return []
            _LEASE.run(conn, {"ids": ids, "until": now + self._lease, "worker": worker})
            jobs, dropped = [], []
            for row in _CLAIMED.run(conn, {"ids": ids}):
                if row.status != "active":  # removed or disabled since it was queued
                    final = "cancelled" if row.status is None else "dead"
                    dropped.append({"b_id": row.id, "b_state": final})
                    continue
                jobs.append(
                    Job(
                        row.id,
                        row.event_id,
                        row.subscription_id,
                        row.target_url,
                        row.secret,
                        row.body,
                        row.attempts + 1,
                    )
                )
            if dropped:
                _DROP.run_many(conn, dropped)
            return jobs

    def record(self, job: Job, worker: str, outcome: Outcome) -> str:
        """Store one attempt; see ``record_many``."""
        return self.record_many(worker, [(job, outcome)])[0]

    def record_many(self, worker: str, results: Sequence[tuple[Job, Outcome]]) -> list[str]:
        """Store attempts and move each delivery on, in ONE transaction (a worker batches its
        outcomes: one commit for many deliveries). Returns each delivery's new state, or
        "lost" where the lease had passed to another worker (that result is dropped).

        A subscription's failing streak follows its latest outcome by time, whichever
        worker commits first (the rules are in ``connector.store.failing_streak``)."""
        now = self._clock()
        ids = [job.delivery_id for job, _outcome in results]
        with self._engine.begin() as conn:
            held = self._held(conn, ids, worker)
            attempts_rows, updates, states = [], [], []
            healthy, failing = set(), set()  # subscriptions with a success; with a streak
            started: set[str] = set()  # streaks this batch started
            for job, outcome in results:
                row = held.pop(job.delivery_id, None)
                if row is None:
                    states.append("lost")
                    continue
                if row.failing_since is not None:
                    failing.add(job.subscription_id)
                attempts = row.attempts + 1
                attempts_rows.append(
                    {
                        "delivery_id": job.delivery_id,
                        "attempt": attempts,
                        "at": now,
                        "status_code": outcome.status_code,
                        "error": outcome.error,
                        "duration_ms": outcome.duration_ms,
                        "response_body": outcome.response_body,
                    }
                )
                if outcome.ok:
                    healthy.add(job.subscription_id)
                    state, next_at = "succeeded", None
                else:
                    cycle_attempts = attempts - row.cycle_start
                    state, next_at = self._after_failure(
                        conn, job, outcome, cycle_attempts, now, started
                    )
                    failing.add(job.subscription_id)
                states.append(state)
                updates.append(
                    {
                        "b_id": job.delivery_id,
                        "b_state": state,
                        "b_attempts": attempts,
                        "b_status": outcome.status_code,
                        "b_error": outcome.error,
                        "b_next": next_at,
                        "b_delivered": now if outcome.ok else None,
                    }
                )
            if attempts_rows:
                _ATTEMPT.run_many(conn, attempts_rows)
                _SETTLE.run_many(conn, updates)
            if healthy & failing:  # a success in the batch ends the streak
                END_STREAKS.run(conn, {"ids": sorted(healthy & failing), "now": now})
        for subscription_id in sorted(started - healthy):
            settle_started_streak(self._engine, subscription_id, now)
        return states

    def _held(self, conn: Connection, ids: list[str], worker: str) -> dict[str, Any]:
        """The rows of ``ids`` that ``worker`` still holds, locked until the batch commits."""
        return {row.id: row for row in _HELD.run(conn, {"ids": ids, "worker": worker})}

    def _after_failure(
        self,
        conn: Connection,
        job: Job,
        outcome: Outcome,
        cycle_attempts: int,
        now: float,
        started: set[str],
    ) -> tuple[str, float | None]:
        """The state and next attempt time after a failed attempt; adds the subscription to
        ``started`` if this failure started its failing streak."""
        subs = subscriptions.c
        if outcome.gone:  # the platform says the hook is gone for good: unsubscribe now
            conn.execute(subscriptions.delete().where(subs.id == job.subscription_id))
            cancel_queued(conn, job.subscription_id)
            return "cancelled", None
        if start_streak(conn, job.subscription_id, now):
            started.add(job.subscription_id)
            since: float | None = now  # just written: no need to read it back
        else:
            since = conn.execute(
                select(subs.failing_since).where(subs.id == job.subscription_id)
            ).scalar()
        if since is not None and now - since >= self._disable_after:
            self._disable(conn, job.subscription_id, now - since)
            return "dead", None
        if outcome.permanent or cycle_attempts >= self.max_attempts:
            return "dead", None
        delay = self._schedule[cycle_attempts - 1] * self._jitter()
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, MAX_RETRY_AFTER))
        return "pending", now + delay

    def _disable(self, conn: Connection, subscription_id: str, failing_for: float) -> None:
        days = failing_for / DAY
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(status="disabled", disabled_reason=f"every delivery failed for {days:.1f} days")
        )
        conn.execute(
            update(deliveries)
            .where(
                deliveries.c.subscription_id == subscription_id,
                deliveries.c.state.in_(("pending", "delivering")),
            )
            .values(state="dead", lease_until=None, leased_by=None, next_attempt_at=None)
        )

    def replay(self, owner: str, delivery_id: str) -> str:
        """Queue a finished delivery again for a full new cycle; re-enables its subscription.

        Returns "queued", "not_found", "busy" (still pending/delivering) or "unsubscribed".
        """
        now = self._clock()
        c = deliveries.c
        with self._engine.begin() as conn:
            row = conn.execute(
                select(c.state, c.attempts, c.subscription_id)
                .where(c.id == delivery_id, c.owner == owner)
                .with_for_update()
            ).first()
            if row is None:
                return "not_found"
            if row.state in ("pending", "delivering"):
                return "busy"
            exists = conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == row.subscription_id)
                .values(status="active", disabled_reason=None, failing_since=None)
            )
            if not exists.rowcount:
                return "unsubscribed"
            conn.execute(
                update(deliveries)
                .where(c.id == delivery_id)
                .values(state="pending", next_attempt_at=now, cycle_start=row.attempts)
            )
            return "queued"

    def pending_count(self) -> int:
        with self._engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.state.in_(("pending", "delivering")))
            ).scalar()
            return int(count or 0)
