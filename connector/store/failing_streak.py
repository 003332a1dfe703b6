"""A subscription's failing streak (``failing_since``): the later outcome wins.

The streak starts at a failure and ends at a success. When a success and a failure of the
same subscription are recorded by different workers, their order is their time (the
``now`` of the batch that records each), not the order in which they commit:

- a success ends a streak that started at or before it, and leaves one that started
  after it;
- a failure starts a streak only if no success was recorded at or after it;
- outcomes recorded in one batch have no order among themselves: one success among them
  ends the streak.

A success's batch reads the streak when it locks its deliveries and skips the clearing
UPDATE when there is none, so that the hot path runs no extra statement. A failure that
starts a streak after that read but commits before the success does would be missed; so
the failure, once committed, waits for the subscription's deliveries still being
recorded (the batches that hold their row locks) and then ends its own streak if a
success at or after it has come in since (``settle_started_streak``). Starting a streak
is the rare path, once per streak, and this runs outside the failure's transaction so
that neither side holds a lock the other waits for.

Left as is: a failure that finds a streak already running starts nothing, so if a
success ends that older streak at the same moment, the failure is forgotten until the
subscription's next failure starts the streak again (a later disable by one attempt).
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import DBAPIError

from connector.store.driver_sql import DriverSql
from connector.store.tables import deliveries, delivery_attempts, subscriptions

__all__ = ["END_STREAKS", "settle_started_streak", "start_streak"]

log = logging.getLogger(__name__)
_s = subscriptions.c

# A success at ``now`` ends the streaks of ``ids`` that started at or before it.
END_STREAKS = DriverSql(
    update(subscriptions)
    .where(
        _s.id.in_(bindparam("ids", expanding=True)),
        _s.failing_since.is_not(None),
        _s.failing_since <= bindparam("now"),
    )
    .values(failing_since=None)
)


def start_streak(conn: Connection, subscription_id: str, now: float) -> bool:
    """Start the subscription's streak at ``now`` unless one is running; True if started."""
    started = conn.execute(
        update(subscriptions)
        .where(_s.id == subscription_id, _s.failing_since.is_(None))
        .values(failing_since=now)
    )
    return bool(started.rowcount)


def settle_started_streak(engine: Engine, subscription_id: str, since: float) -> None:
    """End the streak started at ``since`` if a success at or after it has been recorded,
    restarting it at the first failure after the latest such success, if any.

    Call after the transaction that started the streak has committed. The first statement
    locks the subscription's deliveries still 'delivering', which waits for every batch
    holding one of them (``FOR UPDATE`` until it commits); the next statement, on a fresh
    snapshot, then sees their successes. ``FOR KEY SHARE`` conflicts only with those
    ``FOR UPDATE`` locks, not with the plain UPDATEs of claims and outcomes; rows are
    locked in id order, the order in which a batch locks its own.

    The outcomes are committed by then, so a database error here is logged, not raised:
    the streak stays until the subscription's next success ends it.
    """
    try:
        _settle(engine, subscription_id, since)
    except DBAPIError:
        log.warning(
            "could not check subscription %s's new failing streak against concurrent "
            "successes; its next success ends the streak",
            subscription_id,
            exc_info=True,
        )


def _settle(engine: Engine, subscription_id: str, since: float) -> None:
    d, a = deliveries.c, delivery_attempts.c
    with engine.begin() as conn:
        conn.execute(
            select(d.id)
            .where(d.subscription_id == subscription_id, d.state == "delivering")
            .order_by(d.id)
            .with_for_update(key_share=True)
        ).all()
        attempts = (
            select(a.at)
            .select_from(delivery_attempts.join(deliveries, d.id == a.delivery_id))
            .where(d.subscription_id == subscription_id, a.at >= since)
        )
        ok = and_(a.status_code >= 200, a.status_code < 300)
        last_ok = conn.execute(attempts.where(ok).with_only_columns(func.max(a.at))).scalar()
        if last_ok is None:
            return
        failed = or_(a.status_code.is_(None), ~ok)
        restart = conn.execute(
            attempts.where(failed, a.at > last_ok).with_only_columns(func.min(a.at))
        ).scalar()
        conn.execute(
            update(subscriptions)
            .where(_s.id == subscription_id, _s.failing_since == since)
            .values(failing_since=restart)
        )
