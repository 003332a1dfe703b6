"""The dialer's side of the queue: claims within the budget, then each attempt's fate.

Exactly once: a claim hands out the next dial number of a queued call and stores the attempt
with its Retell ``idempotency_key`` (derived from the queued call's id and that number) in
the claim's own transaction, before any request goes to Retell. A dialer that dies after the
commit leaves the call ``dialing`` with a lease; when the lease runs out any dialer takes it
up again as a *reconcile* job, which looks the call up by that key and re-sends only with the
same key (Retell's idempotency) — it never hands out a new number for an attempt that may
have reached Retell.

The budget is counted here, in the database: every ``dialing`` and ``calling`` row is in
flight, whichever process dialled it. Claims serialise on PostgreSQL's advisory lock (and on
SQLite's write lock), so the count and the rows it admits are one decision even with many
dialers; rows are taken with ``FOR UPDATE SKIP LOCKED``.

Fairness: campaigns take turns, the one that waited longest since its last dial first; within
a campaign, oldest first.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, delete, func, select, text, update
from sqlalchemy.engine import Row

from connector.campaigns.notices import EXPIRED, FAILED, queue_event
from connector.campaigns.policy import RetryPolicy, judge
from connector.campaigns.queue import (
    ACTIVE_STATES,
    FINAL_STATES,
    attempt_views,
    campaign_window,
    first_opening,
    queued_view,
)
from connector.campaigns.windows import DEFAULT_WINDOW, CallWindow, is_open
from connector.flatten import QUEUE_METADATA
from connector.retell.client import CONNECTOR_TAG
from connector.store.engine import reading
from connector.store.tables import campaigns, queued_call_attempts, queued_calls

__all__ = ["DialJob", "DialQueue", "Settled", "upstream_key"]

# Any fixed bigint: the first 8 bytes of sha256("retell-connector dialer budget").
_BUDGET_LOCK: Final = 5_260_116_466_102_977_115
_REQUEUE_AT_LIMIT_SECONDS: Final = 1.0


def upstream_key(queued_id: str, number: int) -> str:
    """Retell's idempotency key (and the connector tag) of dial ``number`` of a queued call."""
    return f"rq-{queued_id}-{number}"


@dataclass(frozen=True)
class DialJob:
    """One attempt to send to Retell: a fresh dial, or a reconcile of an uncertain one."""

    queued_id: str
    owner: str
    campaign: str
    number: int
    key: str
    request: dict[str, Any]
    dialled_at: float
    reconcile: bool = False

    def body(self) -> dict[str, Any]:
        """The create-phone-call body: tagged with the key, the queue id and the campaign."""
        metadata = {
            **(self.request.get("metadata") or {}),
            CONNECTOR_TAG: self.key,
            QUEUE_METADATA["queued_call_id"]: self.queued_id,
            QUEUE_METADATA["campaign"]: self.campaign,
        }
        return {**self.request, "metadata": metadata, "idempotency_key": self.key}


@dataclass(frozen=True)
class Settled:
    """What an ended attempt did: its verdict and how many deliveries it queued."""

    verdict: str
    deliveries: int = 0


class DialQueue:
    """The queue rows as the dialers move them."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = 70.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._lease = lease_seconds
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"

    # -- the budget ----------------------------------------------------------------------

    def in_flight(self, conn: Connection | None = None) -> int:
        """Calls of this connector that use up concurrency now (all processes)."""
        query = select(func.count()).where(queued_calls.c.state.in_(ACTIVE_STATES))
        if conn is not None:
            return int(conn.execute(query).scalar() or 0)
        with self._engine.connect() as own:
            return int(own.execute(query).scalar() or 0)

    def waiting(self) -> tuple[bool, bool]:
        """(a call of a running campaign is due, an uncertain dial's lease ran out), read
        without locks (``reading``: on SQLite, not behind the writers either).

        The dialer takes the write lock for a claim, and reads Retell's figures, only then:
        on SQLite every write transaction holds up every other writer of the database.
        """
        now = self._clock()
        c = queued_calls.c
        due = (
            select(c.id)
            .select_from(
                queued_calls.join(
                    campaigns,
                    (campaigns.c.owner == c.owner) & (campaigns.c.name == c.campaign),
                )
            )
            .where(c.state == "queued", c.next_attempt_at <= now, campaigns.c.paused == 0)
            .limit(1)
        )
        stale = select(c.id).where(c.state == "dialing", c.lease_until < now).limit(1)
        with reading(self._engine) as conn:
            return (
                conn.execute(due).first() is not None,
                conn.execute(stale).first() is not None,
            )

    def claim(self, worker: str, budget: int, *, limit: int = 32) -> tuple[list[DialJob], int]:
        """Up to ``limit`` jobs for ``worker``: uncertain dials whose lease ran out, then due
        calls while fewer than ``budget`` are in flight. Also returns the deliveries queued
        (calls found expired on the way)."""
        now = self._clock()
        with self._engine.begin() as conn:
            if self._postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BUDGET_LOCK})
            jobs = self._reconcile_jobs(conn, worker, now, limit)
            free = min(budget - self.in_flight(conn), limit - len(jobs))
            deliveries = 0
            if free > 0:
                fresh, deliveries = self._fresh_jobs(conn, worker, now, free)
                jobs += fresh
            return jobs, deliveries

    def _reconcile_jobs(
        self, conn: Connection, worker: str, now: float, limit: int
    ) -> list[DialJob]:
        c = queued_calls.c
        stale = conn.execute(
            select(queued_calls)
            .where(c.state == "dialing", c.lease_until < now)
            .order_by(c.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        jobs = []
        for row in stale:
            number = row.dials
            attempt = conn.execute(
                select(queued_call_attempts).where(
                    queued_call_attempts.c.queued_call_id == row.id,
                    queued_call_attempts.c.number == number,
                )
            ).first()
            if attempt is None:  # cannot happen: the claim stores both in one transaction
                continue
            self._lease_row(conn, row.id, worker, now)
            jobs.append(_job(row, number, attempt.dialled_at, reconcile=True))
        return jobs

    def _fresh_jobs(
        self, conn: Connection, worker: str, now: float, free: int
    ) -> tuple[list[DialJob], int]:
        c = queued_calls.c
        waiting = conn.execute(
            select(c.owner, c.campaign)
            .where(c.state == "queued", c.next_attempt_at <= now)
            .distinct()
        ).all()
        if not waiting:
            return [], 0
        info = {
            (r.owner, r.name): r
            for r in conn.execute(
                select(campaigns).where(
                    campaigns.c.owner.in_({w.owner for w in waiting}),
                    campaigns.c.name.in_({w.campaign for w in waiting}),
                )
            )
        }
        turns = sorted(
            (
                (w.owner, w.campaign)
                for w in waiting
                if not _paused(info.get((w.owner, w.campaign)))
            ),
            key=lambda k: (_last_dial(info.get(k)), k),
        )
        candidates: list[list[Row[Any]]] = []
        for owner, campaign in turns:
            rows = conn.execute(
                select(queued_calls)
                .where(
                    c.owner == owner,
                    c.campaign == campaign,
                    c.state == "queued",
                    c.next_attempt_at <= now,
                )
                .order_by(c.created_at, c.id)
                .limit(free)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                candidates.append(list(rows))
        jobs: list[DialJob] = []
        deliveries = 0
        dialled: set[tuple[str, str]] = set()
        for row in _round_robin(candidates):
            if len(jobs) >= free:
                break
            window = _window_of(row, info.get((row.owner, row.campaign)))
            if row.expires_at is not None and row.expires_at <= now:
                deliveries += self._expire(
                    conn, row, now, "expires_at passed before it was dialled"
                )
                continue
            if not is_open(window or DEFAULT_WINDOW, row.to_number, _utc(now)):
                later = first_opening(window, row.to_number, now, row.expires_at)
                if later is None:
                    deliveries += self._expire(
                        conn, row, now, "the calling hours do not open again before expires_at"
                    )
                else:
                    conn.execute(
                        update(queued_calls)
                        .where(c.id == row.id)
                        .values(next_attempt_at=later, updated_at=now)
                    )
                continue
            number = row.dials + 1
            conn.execute(
                queued_call_attempts.insert().values(
                    queued_call_id=row.id,
                    number=number,
                    upstream_key=upstream_key(row.id, number),
                    state="dialing",
                    counted=0,
                    dialled_at=now,
                )
            )
            conn.execute(
                update(queued_calls)
                .where(c.id == row.id)
                .values(
                    state="dialing",
                    dials=number,
                    lease_until=now + self._lease,
                    leased_by=worker,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            dialled.add((row.owner, row.campaign))
            jobs.append(_job(row, number, now))
        for owner, campaign in dialled:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.owner == owner, campaigns.c.name == campaign)
                .values(last_dial_at=now)
            )
        return jobs, deliveries

    def _lease_row(self, conn: Connection, queued_id: str, worker: str, now: float) -> None:
        conn.execute(
            update(queued_calls)
            .where(queued_calls.c.id == queued_id)
            .values(lease_until=now + self._lease, leased_by=worker, updated_at=now)
        )

    # -- what Retell said to the dial ------------------------------------------------------

    def placed(self, job: DialJob, call_id: str) -> None:
        """Retell created the call: it is in flight until it ends."""
        now = self._clock()
        a, c = queued_call_attempts.c, queued_calls.c
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(queued_call_attempts)
                .where(a.upstream_key == job.key, a.state == "dialing")
                .values(state="placed", call_id=call_id, placed_at=now, checked_at=now)
            )
            if moved.rowcount:  # else its end was already reported (a very short call)
                conn.execute(
                    update(queued_calls)
                    .where(c.id == job.queued_id, c.state == "dialing", c.dials == job.number)
                    .values(
                        state="calling",
                        call_id=call_id,
                        lease_until=None,
                        leased_by=None,
                        updated_at=now,
                    )
                )

    def requeue(self, job: DialJob, *, delay: float, error: str) -> None:
        """Retell provably did not place the call (429, not reached): back in the queue,
        without using up an attempt."""
        now = self._clock()
        with self._engine.begin() as conn:
            if not self._close_attempt(conn, job.key, state="requeued", now=now, error=error):
                return
            conn.execute(
                update(queued_calls)
                .where(queued_calls.c.id == job.queued_id, queued_calls.c.state == "dialing")
                .values(
                    state="queued",
                    next_attempt_at=now + delay,
                    lease_until=None,
                    leased_by=None,
                    updated_at=now,
                )
            )

    def uncertain(self, job: DialJob, *, error: str, retry_in: float) -> None:
        """Retell may have placed the call (timeout, 5xx): reconcile after ``retry_in``."""
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(
                update(queued_call_attempts)
                .where(queued_call_attempts.c.upstream_key == job.key)
                .values(error=error)
            )
            conn.execute(
                update(queued_calls)
                .where(queued_calls.c.id == job.queued_id, queued_calls.c.state == "dialing")
                .values(lease_until=now + retry_in, updated_at=now)
            )

    def refused(self, job: DialJob, *, reason: str) -> int:
        """Retell refused the call for good (or its outcome cannot be known): failed, with
        ``queued_call.failed``. Returns the deliveries queued."""
        now = self._clock()
        with self._engine.begin() as conn:
            if not self._close_attempt(conn, job.key, state="ended", now=now, error=reason):
                return 0
            row = self._row(conn, job.queued_id)
            if row is None or row.state != "dialing":
                return 0
            return self._finish(conn, row, "failed", now, reason=reason)

    # -- ends ------------------------------------------------------------------------------

    def settle(
        self, key: str, *, outcome: str | None, call_id: str | None = None
    ) -> Settled | None:
        """The call of attempt ``key`` ended with ``outcome``: apply the retry policy.

        None when the attempt is unknown or already settled (a duplicate report).
        """
        now = self._clock()
        a = queued_call_attempts.c
        with self._engine.begin() as conn:
            attempt = conn.execute(
                select(queued_call_attempts).where(a.upstream_key == key).with_for_update()
            ).first()
            if attempt is None or attempt.state not in ("dialing", "placed"):
                return None
            row = self._row(conn, attempt.queued_call_id)
            if row is None or row.dials != attempt.number or row.state not in ACTIVE_STATES:
                return None
            policy = RetryPolicy.from_json(json.loads(row.retry))
            verdict = judge(policy, outcome, row.attempts + 1)
            counted = verdict != "requeue"
            conn.execute(
                update(queued_call_attempts)
                .where(a.upstream_key == key)
                .values(
                    state="requeued" if not counted else "ended",
                    outcome=outcome,
                    counted=1 if counted else 0,
                    call_id=call_id or attempt.call_id,
                    ended_at=now,
                )
            )
            used = row.attempts + (1 if counted else 0)
            common = {
                "attempts": used,
                "call_id": call_id or attempt.call_id or row.call_id,
                "last_outcome": outcome,
                "lease_until": None,
                "leased_by": None,
                "updated_at": now,
            }
            if verdict in ("requeue", "retry"):
                wait = _REQUEUE_AT_LIMIT_SECONDS if verdict == "requeue" else policy.wait_seconds
                window = _window_of(row, self._campaign(conn, row))
                due = first_opening(window, row.to_number, now + wait, row.expires_at)
                if due is not None:
                    conn.execute(
                        update(queued_calls)
                        .where(queued_calls.c.id == row.id)
                        .values(state="queued", next_attempt_at=due, **common)
                    )
                    return Settled(verdict)
                conn.execute(
                    update(queued_calls).where(queued_calls.c.id == row.id).values(**common)
                )
                return Settled(
                    "expire",
                    self._expire(
                        conn, self._row(conn, row.id), now, "expires_at comes before the next try"
                    ),
                )
            conn.execute(update(queued_calls).where(queued_calls.c.id == row.id).values(**common))
            if verdict == "fail":
                tries = f"{used} attempt{'s' if used != 1 else ''}"
                reason = f"retries used up: {tries}, the last ended with {outcome}"
                return Settled(
                    verdict,
                    self._finish(conn, self._row(conn, row.id), "failed", now, reason=reason),
                )
            self._finish(conn, self._row(conn, row.id), "completed", now, reason=None)
            return Settled(verdict)

    def unreported(self, *, older_than: float, limit: int) -> list[tuple[str, str | None, float]]:
        """Placed attempts not heard of for ``older_than`` seconds: (key, call_id, placed_at)."""
        now = self._clock()
        a = queued_call_attempts.c
        query = (
            select(a.upstream_key, a.call_id, a.placed_at)
            .where(a.state == "placed", a.checked_at < now - older_than)
            .order_by(a.checked_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:  # most of the time there are none: no lock
            if conn.execute(query).first() is None:
                return []
        with self._engine.begin() as conn:
            rows = conn.execute(query.with_for_update(skip_locked=True)).all()
            if rows:
                conn.execute(
                    update(queued_call_attempts)
                    .where(a.upstream_key.in_([r.upstream_key for r in rows]))
                    .values(checked_at=now)
                )
        return [(r.upstream_key, r.call_id, r.placed_at or now) for r in rows]

    def purge_finished(self, *, older_than: float, limit: int = 1000) -> int:
        """Delete calls that reached a final state more than ``older_than`` seconds ago, with
        their attempts (retention; campaign counts then cover the calls kept). How many."""
        c, a = queued_calls.c, queued_call_attempts.c
        query = (
            select(c.id)
            .where(c.state.in_(FINAL_STATES), c.finished_at < self._clock() - older_than)
            .limit(limit)
        )
        with self._engine.connect() as conn:  # most of the time there are none: no lock
            ids = list(conn.execute(query).scalars())
        if not ids:
            return 0
        with self._engine.begin() as conn:
            conn.execute(delete(queued_call_attempts).where(a.queued_call_id.in_(ids)))
            gone = conn.execute(delete(queued_calls).where(c.id.in_(ids)))
        return int(gone.rowcount or 0)

    def expire_due(self, *, limit: int = 200) -> int:
        """Queued calls whose ``expires_at`` passed: expired, each with its event."""
        now = self._clock()
        c = queued_calls.c
        deliveries = 0
        query = select(queued_calls).where(c.state == "queued", c.expires_at <= now).limit(limit)
        with self._engine.connect() as conn:  # most of the time there are none: no lock
            if conn.execute(query).first() is None:
                return 0
        with self._engine.begin() as conn:
            rows = conn.execute(query.with_for_update(skip_locked=True)).all()
            for row in rows:
                deliveries += self._expire(
                    conn, row, now, "expires_at passed before it was dialled"
                )
        return deliveries

    # -- plumbing --------------------------------------------------------------------------

    def _close_attempt(
        self, conn: Connection, key: str, *, state: str, now: float, error: str
    ) -> bool:
        a = queued_call_attempts.c
        closed = conn.execute(
            update(queued_call_attempts)
            .where(a.upstream_key == key, a.state == "dialing")
            .values(state=state, error=error, ended_at=now)
        )
        return bool(closed.rowcount)

    @staticmethod
    def _row(conn: Connection, queued_id: str) -> Row[Any]:
        row = conn.execute(
            select(queued_calls).where(queued_calls.c.id == queued_id).with_for_update()
        ).first()
        assert row is not None
        return row

    @staticmethod
    def _campaign(conn: Connection, row: Row[Any]) -> Row[Any] | None:
        return conn.execute(
            select(campaigns).where(
                campaigns.c.owner == row.owner, campaigns.c.name == row.campaign
            )
        ).first()

    def _expire(self, conn: Connection, row: Row[Any], now: float, reason: str) -> int:
        return self._finish(conn, row, "expired", now, reason=reason)

    def _finish(
        self, conn: Connection, row: Row[Any], state: str, now: float, *, reason: str | None
    ) -> int:
        """Move the call to a final state; failed and expired queue their event."""
        conn.execute(
            update(queued_calls)
            .where(queued_calls.c.id == row.id)
            .values(
                state=state,
                next_attempt_at=None,
                lease_until=None,
                leased_by=None,
                reason=reason,
                updated_at=now,
                finished_at=now,
            )
        )
        if state not in ("failed", "expired"):
            return 0
        final = self._row(conn, row.id)
        attempts = conn.execute(
            select(queued_call_attempts)
            .where(queued_call_attempts.c.queued_call_id == row.id)
            .order_by(queued_call_attempts.c.number)
        ).all()
        view = queued_view(final, attempt_views(attempts))
        return queue_event(conn, row.owner, FAILED if state == "failed" else EXPIRED, view, now)


def _job(row: Row[Any], number: int, dialled_at: float, *, reconcile: bool = False) -> DialJob:
    return DialJob(
        queued_id=row.id,
        owner=row.owner,
        campaign=row.campaign,
        number=number,
        key=upstream_key(row.id, number),
        request=json.loads(row.request),
        dialled_at=dialled_at,
        reconcile=reconcile,
    )


def _paused(campaign: Row[Any] | None) -> bool:
    return campaign is not None and bool(campaign.paused)


def _last_dial(campaign: Row[Any] | None) -> float:
    return (
        float("-inf")
        if campaign is None or campaign.last_dial_at is None
        else campaign.last_dial_at
    )


def _window_of(row: Row[Any], campaign: Row[Any] | None) -> CallWindow | None:
    """The call's own window, else its campaign's; None: the default."""
    if row.call_window is not None:
        return campaign_window(row.call_window)
    return campaign_window(campaign.call_window) if campaign is not None else None


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _round_robin(groups: list[list[Row[Any]]]) -> list[Row[Any]]:
    """One from each group in turn, keeping each group's order."""
    out: list[Row[Any]] = []
    for index in range(max((len(g) for g in groups), default=0)):
        out.extend(g[index] for g in groups if index < len(g))
    return out
