"""The delivery queue at store level: leases, outcomes, backoff, disabling, 410 and replay.

Every test runs on SQLite and PostgreSQL (the ``engine`` fixture) with a hand-driven clock
and no jitter, so each delay is exactly the schedule's. The last test drains a queue with
two real workers on PostgreSQL to show that ``FOR UPDATE SKIP LOCKED`` never hands the
same delivery to both.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, delete, func, select, update

from connector.delivery.sender import Sender
from connector.delivery.ssrf import guarded_transport
from connector.delivery.worker import DeliveryWorker
from connector.store.inbox import EventInbox
from connector.store.outbox import DAY, DeliveryQueue, Job, Outcome
from connector.store.subscriptions import Subscription, SubscriptionStore
from connector.store.tables import deliveries, delivery_attempts, subscriptions
from tests.conftest import Clock, sample_call
from tests.subscriber import Subscriber

SCHEDULE = (60.0, 600.0, 3600.0)  # four attempts in all
LEASE = 30.0
OWNER = "owner-a"
START = 1_800_000_000.0
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

OK = Outcome(200, 1.0)
FAILED = Outcome(500, 1.0, error="HTTP 500")
GONE = Outcome(410, 1.0, error="HTTP 410")


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def queue(engine: Engine, clock: Clock) -> DeliveryQueue:
    return DeliveryQueue(
        engine, schedule=SCHEDULE, lease_seconds=LEASE, clock=clock, jitter=lambda: 1.0
    )


@pytest.fixture
def inbox(engine: Engine, clock: Clock) -> EventInbox:
    return EventInbox(engine, clock=clock)


@pytest.fixture
def sub(engine: Engine, clock: Clock) -> Subscription:
    """One active subscription to call_ended, owned by ``OWNER``."""
    store = SubscriptionStore(engine, clock=clock)
    return store.create(OWNER, "https://hooks.example.com/a", ["call_ended"], None)


def queue_event(inbox: EventInbox, number: int = 1) -> None:
    """Accept one call_ended event (a distinct call per ``number``)."""
    accepted = inbox.accept("call_ended", sample_call(call_id=f"call_{number}"))
    assert accepted.deliveries >= 1


def claim_one(queue: DeliveryQueue, worker: str = "w1") -> Job:
    (job,) = queue.claim(worker, 1)
    return job


def attempt(queue: DeliveryQueue, outcome: Outcome, worker: str = "w1") -> tuple[Job, str]:
    """Claim the next due delivery and record ``outcome`` for it."""
    job = claim_one(queue, worker)
    return job, queue.record(job, worker, outcome)


def delivery(engine: Engine, delivery_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()


def subscription(engine: Engine, subscription_id: str) -> Any:
    with engine.connect() as conn:
        query = select(subscriptions).where(subscriptions.c.id == subscription_id)
        return conn.execute(query).one_or_none()


def attempt_count(engine: Engine, delivery_id: str | None = None) -> int:
    query = select(func.count()).select_from(delivery_attempts)
    if delivery_id is not None:
        query = query.where(delivery_attempts.c.delivery_id == delivery_id)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def fail_until_due_again(queue: DeliveryQueue, engine: Engine, clock: Clock) -> tuple[str, float]:
    """One failed attempt; then move the clock to the retry. Returns (state, delay)."""
    job, state = attempt(queue, FAILED)
    due = delivery(engine, job.delivery_id).next_attempt_at
    delay = due - clock.now if due is not None else -1.0
    if due is not None:
        clock.now = due
    return state, delay


# --- claims and leases ------------------------------------------------------------------


def test_claim_leases_a_due_delivery_once(
    queue: DeliveryQueue, sub: Subscription, inbox: EventInbox
) -> None:
    """A due delivery is handed out once; a second claim while it is leased gets nothing."""
    queue_event(inbox)
    (job,) = queue.claim("w1", 10)
    assert (job.subscription_id, job.attempt, job.target_url) == (sub.id, 1, sub.target_url)
    assert queue.claim("w2", 10) == []


def test_claim_returns_the_lease_holder_and_expiry(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A claimed delivery is 'delivering', leased by the claimer until now + lease."""
    queue_event(inbox)
    job = claim_one(queue)
    row = delivery(engine, job.delivery_id)
    assert (row.state, row.leased_by, row.lease_until) == ("delivering", "w1", clock.now + LEASE)


def test_expired_lease_is_claimed_again(
    queue: DeliveryQueue, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A worker that died holding a lease does not lose the delivery: it comes back."""
    queue_event(inbox)
    first = claim_one(queue, "crashed")
    clock.advance(LEASE - 1)
    assert queue.claim("w2", 10) == []
    clock.advance(2)
    second = claim_one(queue, "w2")
    assert (second.delivery_id, second.attempt) == (first.delivery_id, 1)
    assert queue.record(second, "w2", OK) == "succeeded"


def test_record_by_worker_that_lost_its_lease_changes_nothing(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A slow worker's late outcome is 'lost' and cannot overwrite the new lease holder."""
    queue_event(inbox)
    slow = claim_one(queue, "slow")
    clock.advance(LEASE + 1)
    claim_one(queue, "w2")
    before = delivery(engine, slow.delivery_id)
    assert queue.record(slow, "slow", FAILED) == "lost"
    assert delivery(engine, slow.delivery_id) == before
    assert before.leased_by == "w2"
    assert attempt_count(engine) == 0
    assert subscription(engine, sub.id).failing_since is None


def test_late_outcome_counts_while_nobody_took_over(
    queue: DeliveryQueue, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """An expired lease that no other worker claimed still accepts its holder's outcome."""
    queue_event(inbox)
    job = claim_one(queue)
    clock.advance(LEASE * 3)
    assert queue.record(job, "w1", OK) == "succeeded"


def test_success_records_the_attempt_and_delivery_time(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A 2xx makes the delivery 'succeeded' with delivered_at, its attempt logged, lease gone."""
    queue_event(inbox)
    job, state = attempt(queue, OK)
    row = delivery(engine, job.delivery_id)
    assert state == "succeeded"
    assert (row.attempts, row.delivered_at, row.last_status) == (1, clock.now, 200)
    assert (row.leased_by, row.lease_until, row.next_attempt_at) == (None, None, None)
    assert attempt_count(engine, job.delivery_id) == 1


def test_success_clears_the_failing_streak(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A failure starts the subscription's failing streak; a later success ends it."""
    queue_event(inbox)
    fail_until_due_again(queue, engine, clock)
    assert subscription(engine, sub.id).failing_since == START
    attempt(queue, OK)
    assert subscription(engine, sub.id).failing_since is None


def test_a_success_in_the_same_batch_as_the_first_failure_ends_the_streak(
    queue: DeliveryQueue, engine: Engine, sub: Subscription, inbox: EventInbox
) -> None:
    """Outcomes recorded together have no order: one success among them ends the streak
    that a failure among them started, and the failure is still retried."""
    queue_event(inbox, 1)
    queue_event(inbox, 2)
    failed, succeeded = queue.claim("w1", 2)
    assert queue.record_many("w1", [(failed, FAILED), (succeeded, OK)]) == [
        "pending",
        "succeeded",
    ]
    assert subscription(engine, sub.id).failing_since is None


# --- backoff ----------------------------------------------------------------------------


def test_backoff_follows_the_schedule(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """The nth failure schedules the next attempt schedule[n-1] seconds later."""
    queue_event(inbox)
    delays = [fail_until_due_again(queue, engine, clock)[1] for _ in SCHEDULE]
    assert delays == list(SCHEDULE)


def test_failed_delivery_waits_for_its_next_attempt(
    queue: DeliveryQueue, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A failed delivery is not claimed again before its next_attempt_at."""
    queue_event(inbox)
    attempt(queue, FAILED)
    clock.advance(SCHEDULE[0] - 1)
    assert queue.claim("w1", 10) == []
    clock.advance(1)
    assert claim_one(queue).attempt == 2


def test_jitter_stretches_the_delay(
    engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """The delay is the schedule's times the jitter factor."""
    queue = DeliveryQueue(engine, schedule=SCHEDULE, clock=clock, jitter=lambda: 1.25)
    queue_event(inbox)
    job, _ = attempt(queue, FAILED)
    assert delivery(engine, job.delivery_id).next_attempt_at == clock.now + SCHEDULE[0] * 1.25


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [
        (None, SCHEDULE[0]),
        (0.0, SCHEDULE[0]),
        (SCHEDULE[0] / 2, SCHEDULE[0]),
        (SCHEDULE[0] * 5, SCHEDULE[0] * 5),
        (DAY, DAY),
        (DAY * 30, DAY),
    ],
    ids=["absent", "zero", "shorter", "longer", "one-day", "capped-at-one-day"],
)
def test_retry_after_wins_when_longer_up_to_a_day(
    queue: DeliveryQueue,
    engine: Engine,
    clock: Clock,
    sub: Subscription,
    inbox: EventInbox,
    retry_after: float | None,
    delay: float,
) -> None:
    """Retry-After pushes the next attempt out when longer than the schedule, at most a day."""
    queue_event(inbox)
    job, _ = attempt(queue, Outcome(429, 1.0, error="HTTP 429", retry_after=retry_after))
    assert delivery(engine, job.delivery_id).next_attempt_at == clock.now + delay


def test_dead_after_the_last_scheduled_attempt(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """len(schedule) + 1 failures make the delivery dead; it is not claimed again."""
    queue_event(inbox)
    states = [fail_until_due_again(queue, engine, clock)[0] for _ in range(len(SCHEDULE) + 1)]
    assert states == ["pending"] * len(SCHEDULE) + ["dead"]
    clock.advance(DAY * 30)
    assert queue.claim("w1", 10) == []


# --- disabling after five days ----------------------------------------------------------


@pytest.mark.parametrize(
    ("failing_for", "disabled"),
    [(5 * DAY - 1, False), (5 * DAY, True), (6 * DAY, True)],
    ids=["just-under-5-days", "5-days", "6-days"],
)
def test_five_days_of_failure_disable_the_subscription(
    queue: DeliveryQueue,
    engine: Engine,
    clock: Clock,
    sub: Subscription,
    inbox: EventInbox,
    failing_for: float,
    disabled: bool,
) -> None:
    """Failing continuously for 5 days disables the subscription and dead-letters its queue."""
    queue_event(inbox, 1)
    first, _ = attempt(queue, FAILED)
    clock.advance(failing_for)
    queue_event(inbox, 2)  # queued behind the retry of the first, which is due earlier
    job, state = attempt(queue, FAILED)
    assert job.delivery_id == first.delivery_id
    row = subscription(engine, sub.id)
    with engine.connect() as conn:
        states = set(conn.execute(select(deliveries.c.state)).scalars())
    if disabled:
        assert (state, row.status, states) == ("dead", "disabled", {"dead"})
        assert "failed" in row.disabled_reason
    else:
        assert (state, row.status, states) == ("pending", "active", {"pending"})
        assert row.disabled_reason is None


def test_success_within_five_days_resets_the_streak(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """Failures on either side of a success are two streaks, neither five days long."""
    queue_event(inbox, 1)
    attempt(queue, FAILED)
    clock.advance(3 * DAY)
    attempt(queue, OK)
    clock.advance(1 * DAY)
    queue_event(inbox, 2)
    attempt(queue, FAILED)
    clock.advance(3 * DAY)  # six days after the first failure, three after the second
    _, state = attempt(queue, FAILED)
    assert state == "pending"
    assert subscription(engine, sub.id).status == "active"


# --- 410 Gone and removed subscriptions -------------------------------------------------


def test_410_deletes_the_subscription_and_cancels_its_queue(
    queue: DeliveryQueue, engine: Engine, sub: Subscription, inbox: EventInbox
) -> None:
    """410 Gone removes the subscription at once and cancels its other queued deliveries."""
    queue_event(inbox, 1)
    queue_event(inbox, 2)
    _, state = attempt(queue, GONE)
    assert state == "cancelled"
    assert subscription(engine, sub.id) is None
    with engine.connect() as conn:
        assert list(conn.execute(select(deliveries.c.state)).scalars()) == ["cancelled"] * 2
    assert queue.claim("w1", 10) == []


def test_410_leaves_other_subscriptions_alone(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """Only the subscription whose target said 410 is removed."""
    other = SubscriptionStore(engine, clock=clock).create(
        OWNER, "https://hooks.example.com/b", ["call_ended"], None
    )
    queue_event(inbox)
    jobs = {job.subscription_id: job for job in queue.claim("w1", 10)}
    assert queue.record(jobs[sub.id], "w1", GONE) == "cancelled"
    assert queue.record(jobs[other.id], "w1", OK) == "succeeded"
    assert subscription(engine, other.id).status == "active"


@pytest.mark.parametrize(
    ("change", "final_state"),
    [
        (update(subscriptions).values(status="disabled"), "dead"),
        (delete(subscriptions), "cancelled"),
    ],
    ids=["disabled", "deleted"],
)
def test_claim_skips_deliveries_of_inactive_subscriptions(
    queue: DeliveryQueue,
    engine: Engine,
    sub: Subscription,
    inbox: EventInbox,
    change: Any,
    final_state: str,
) -> None:
    """A delivery queued before its subscription was disabled or removed is never sent."""
    queue_event(inbox)
    with engine.begin() as conn:
        conn.execute(change)
    assert queue.claim("w1", 10) == []
    with engine.connect() as conn:
        assert conn.execute(select(deliveries.c.state)).scalar_one() == final_state


def test_unsubscribing_cancels_deliveries_in_flight(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """An attempt finishing after its subscription was deleted is 'lost', not retried."""
    queue_event(inbox)
    job = claim_one(queue)
    assert SubscriptionStore(engine, clock=clock).delete(OWNER, sub.id)
    assert queue.record(job, "w1", FAILED) == "lost"
    assert delivery(engine, job.delivery_id).state == "cancelled"


# --- replay -----------------------------------------------------------------------------


def kill(queue: DeliveryQueue, engine: Engine, clock: Clock) -> str:
    """Fail the one queued delivery until it is dead; returns its id."""
    job = None
    for _ in range(len(SCHEDULE) + 1):
        job, _state = attempt(queue, FAILED)
        clock.advance(DAY)
    assert job is not None and delivery(engine, job.delivery_id).state == "dead"
    return job.delivery_id


def test_replay_of_dead_delivery_starts_a_full_new_cycle(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """A replayed dead letter is due now and gets the whole schedule again before dying."""
    queue_event(inbox)
    dead = kill(queue, engine, clock)
    assert queue.replay(OWNER, dead) == "queued"
    row = delivery(engine, dead)
    assert (row.state, row.next_attempt_at) == ("pending", clock.now)
    outcomes = [fail_until_due_again(queue, engine, clock) for _ in range(len(SCHEDULE) + 1)]
    assert [delay for _, delay in outcomes[:-1]] == list(SCHEDULE)
    assert outcomes[-1][0] == "dead"
    assert delivery(engine, dead).attempts == 2 * (len(SCHEDULE) + 1)


def test_replay_reactivates_a_disabled_subscription(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """Replaying a dead letter of a disabled subscription turns the subscription back on."""
    queue_event(inbox)
    job, _ = attempt(queue, FAILED)
    clock.advance(5 * DAY)
    assert attempt(queue, FAILED)[1] == "dead"
    assert subscription(engine, sub.id).status == "disabled"
    assert queue.replay(OWNER, job.delivery_id) == "queued"
    row = subscription(engine, sub.id)
    assert (row.status, row.disabled_reason, row.failing_since) == ("active", None, None)
    assert claim_one(queue).delivery_id == job.delivery_id


def test_replay_of_a_succeeded_delivery_sends_it_again(
    queue: DeliveryQueue, engine: Engine, sub: Subscription, inbox: EventInbox
) -> None:
    """A delivered event can be replayed too (a platform lost it on its side)."""
    queue_event(inbox)
    job, _ = attempt(queue, OK)
    assert queue.replay(OWNER, job.delivery_id) == "queued"
    assert claim_one(queue).attempt == 2


@pytest.mark.parametrize("claimed", [False, True], ids=["pending", "delivering"])
def test_replay_of_a_queued_delivery_is_busy(
    queue: DeliveryQueue, engine: Engine, sub: Subscription, inbox: EventInbox, claimed: bool
) -> None:
    """A delivery still pending or being delivered cannot be replayed."""
    queue_event(inbox)
    with engine.connect() as conn:
        delivery_id = conn.execute(select(deliveries.c.id)).scalar_one()
    if claimed:
        claim_one(queue)
    before = delivery(engine, delivery_id)
    assert queue.replay(OWNER, delivery_id) == "busy"
    assert delivery(engine, delivery_id) == before


def test_replay_by_another_owner_is_not_found(
    queue: DeliveryQueue, engine: Engine, clock: Clock, sub: Subscription, inbox: EventInbox
) -> None:
    """Another token's delivery is invisible: replay says not_found and changes nothing."""
    queue_event(inbox)
    dead = kill(queue, engine, clock)
    assert queue.replay("owner-b", dead) == "not_found"
    assert delivery(engine, dead).state == "dead"


def test_replay_after_410_is_unsubscribed(
    queue: DeliveryQueue, engine: Engine, sub: Subscription, inbox: EventInbox
) -> None:
    """A delivery whose subscription is gone cannot be replayed."""
    queue_event(inbox)
    job, _ = attempt(queue, GONE)
    assert queue.replay(OWNER, job.delivery_id) == "unsubscribed"
    assert delivery(engine, job.delivery_id).state == "cancelled"


# --- what the sender reports -----------------------------------------------------------


def in_an_hour() -> str:
    """An HTTP date one hour from now (computed when the test runs, not at collection)."""
    return email.utils.format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        (in_an_hour, 3600.0),
        ("soon", None),
        ("", None),
    ],
    ids=[
        "absent",
        "seconds",
        "fraction",
        "negative",
        "past-date",
        "future-date",
        "garbage",
        "empty",
    ],
)
def test_sender_reads_retry_after(
    header: str | Callable[[], str] | None, seconds: float | None
) -> None:
    """Retry-After in seconds or as an HTTP date; an unreadable one is ignored, never fatal."""
    value = header() if callable(header) else header
    headers = {} if value is None else {"Retry-After": value}
    transport = httpx.MockTransport(lambda _r: httpx.Response(429, headers=headers))
    sender = Sender(transport)
    try:
        job = Job("dlv_1", "evt_1", "sub_1", "https://hooks.example.com/a", SECRET, "{}", 1)
        outcome = sender.send(job)
    finally:
        sender.close()
    assert (outcome.status_code, outcome.error) == (429, "HTTP 429")
    assert outcome.retry_after == pytest.approx(seconds, abs=5)


# --- several workers on PostgreSQL ------------------------------------------------------

DRAINED = 300


class CountingQueue(DeliveryQueue):
    """A queue that counts how many jobs it handed to its worker."""

    claimed = 0

    def claim(self, worker: str, limit: int) -> list[Job]:
        jobs = super().claim(worker, limit)
        self.claimed += len(jobs)
        return jobs


@pytest.fixture
def pg_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite serialises all writers")
    return engine


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    with Subscriber() as sub:
        yield sub


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_two_workers_deliver_each_event_exactly_once(
    pg_engine: Engine, subscriber: Subscriber
) -> None:
    """Two workers draining one queue never send the same delivery twice (SKIP LOCKED)."""
    engine = pg_engine
    SubscriptionStore(engine).create(OWNER, subscriber.url, ["call_ended"], None)
    inbox = EventInbox(engine)
    for number in range(DRAINED):
        queue_event(inbox, number)
    queues = [CountingQueue(engine, schedule=(DAY,)) for _ in range(2)]
    workers = [
        DeliveryWorker(
            q,
            Sender(guarded_transport(allow_private=True), timeout=5.0),
            concurrency=8,
            batch=4,
            idle_seconds=0.01,
        )
        for q in queues
    ]
    for worker in workers:
        worker.start()
    try:
        subscriber.wait_for(DRAINED, timeout=30)
        deadline = time.monotonic() + 30
        while queues[0].pending_count() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        for worker in workers:
            worker.stop()
    ids = [hit.headers["webhook-id"] for hit in subscriber.hits]
    assert len(ids) == len(set(ids)) == DRAINED
    assert all(q.claimed > 0 for q in queues), [q.claimed for q in queues]
    with engine.connect() as conn:
        per_delivery = conn.execute(
            select(delivery_attempts.c.delivery_id, func.count()).group_by(
                delivery_attempts.c.delivery_id
            )
        ).all()
        states = conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state))
        assert dict(states.all()) == {"succeeded": DRAINED}
    assert len(per_delivery) == DRAINED
    assert {count for _, count in per_delivery} == {1}
