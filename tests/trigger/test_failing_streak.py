"""A subscription's failing streak when a success and a failure race: the later one wins.

Each worker has its own clock, so an outcome's time and the order in which the outcomes
commit can disagree, as they do between replicas. The sequential cases run on both stores;
the one where a failure commits while a success's batch is between its read and its commit
needs two PostgreSQL transactions at once (SQLite lets one writer in at a time).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from connector.store.inbox import EventInbox
from connector.store.outbox import DeliveryQueue, Job, Outcome
from connector.store.subscriptions import Subscription, SubscriptionStore
from connector.store.tables import subscriptions
from tests.conftest import Clock, sample_call

START = 1_800_000_000.0
OK = Outcome(200, 1.0)
FAILED = Outcome(500, 1.0, error="HTTP 500")
SUCCESS_AT = START + 10


@pytest.fixture
def sub(engine: Engine) -> Subscription:
    store = SubscriptionStore(engine, clock=Clock(START))
    return store.create("owner-a", "https://hooks.example.com/a", ["call_ended"], None)


@pytest.fixture
def jobs(engine: Engine, sub: Subscription) -> tuple[Job, Job]:
    """Two deliveries to ``sub``, claimed by workers "ok" and "fail"."""
    inbox = EventInbox(engine, clock=Clock(START))
    for number in (1, 2):
        inbox.accept("call_ended", sample_call(call_id=f"call_{number}"))
    (succeeding,) = queue(engine, START).claim("ok", 1)
    (failing,) = queue(engine, START).claim("fail", 1)
    return succeeding, failing


def queue(engine: Engine, now: float) -> DeliveryQueue:
    return DeliveryQueue(engine, schedule=(60.0,), clock=Clock(now), jitter=lambda: 1.0)


def failing_since(engine: Engine, subscription_id: str) -> Any:
    with engine.connect() as conn:
        query = select(subscriptions.c.failing_since).where(subscriptions.c.id == subscription_id)
        return conn.execute(query).scalar()


@pytest.mark.parametrize(
    ("failure_at", "success_first", "expected"),
    [
        (START + 5, False, None),
        (START + 5, True, None),
        (START + 20, False, START + 20),
        (START + 20, True, START + 20),
    ],
    ids=[
        "earlier-failure-committed-first",
        "earlier-failure-committed-last",
        "later-failure-committed-first",
        "later-failure-committed-last",
    ],
)
def test_the_later_outcome_decides_whatever_the_commit_order(
    engine: Engine,
    sub: Subscription,
    jobs: tuple[Job, Job],
    failure_at: float,
    success_first: bool,
    expected: float | None,
) -> None:
    """The later of a success and a failure sets the streak, whichever commits first."""
    succeeding, failing = jobs
    steps = [
        lambda: queue(engine, SUCCESS_AT).record(succeeding, "ok", OK),
        lambda: queue(engine, failure_at).record(failing, "fail", FAILED),
    ]
    for step in steps if success_first else reversed(steps):
        step()
    assert failing_since(engine, sub.id) == expected


class PausedQueue(DeliveryQueue):
    """Runs ``pause`` once between reading its held rows and writing its outcomes."""

    def __init__(self, engine: Engine, now: float, pause: Any) -> None:
        super().__init__(engine, schedule=(60.0,), clock=Clock(now), jitter=lambda: 1.0)
        self._pause = pause

    def _held(self, conn: Connection, ids: list[str], worker: str) -> dict[str, Any]:
        held = super()._held(conn, ids, worker)
        self._pause()
        return held


@pytest.mark.postgres
@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("failure_at", "expected"),
    [(START + 5, None), (START + 20, START + 20)],
    ids=["earlier-failure", "later-failure"],
)
def test_a_failure_committed_during_a_successes_batch_is_ordered_by_time(
    engine: Engine,
    sub: Subscription,
    jobs: tuple[Job, Job],
    failure_at: float,
    expected: float | None,
) -> None:
    """A failure committed between a success batch's read and its commit is ordered by time."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: no commit can fall inside a batch")
    succeeding, failing = jobs
    errors: list[BaseException] = []

    def fail() -> None:
        try:
            queue(engine, failure_at).record(failing, "fail", FAILED)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    racer = threading.Thread(target=fail)

    def race() -> None:
        """Let the failure commit its streak while the success's batch is open."""
        racer.start()
        deadline = time.monotonic() + 10
        while failing_since(engine, sub.id) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert failing_since(engine, sub.id) == failure_at

    assert PausedQueue(engine, SUCCESS_AT, race).record(succeeding, "ok", OK) == "succeeded"
    racer.join(10)
    assert not racer.is_alive() and errors == []
    assert failing_since(engine, sub.id) == expected
