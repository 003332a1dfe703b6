"""The dialer's side of the queue on both stores: budget, fairness, windows, keys, outcomes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connector import manifest
from connector.campaigns.dialing import DialJob, DialQueue
from connector.campaigns.queue import QueueStore
from connector.campaigns.requests import validate_queue
from connector.store.subscriptions import SubscriptionStore
from connector.store.tables import deliveries, events, queued_call_attempts
from tests.campaigns.conftest import SALES_LINE, Clock

OWNER = "owner-a"
NEW_YORK = "+12125550123"
LONDON = "+442071838750"


class Queue:
    """The two stores on one engine and one clock, with shorthands for tests."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.store = QueueStore(engine, clock=clock)
        self.dial = DialQueue(engine, clock=clock, lease_seconds=10)
        self._n = 0

    def add(self, to: str = NEW_YORK, *, owner: str = OWNER, **fields: Any) -> dict[str, Any]:
        fields.setdefault("call_window", "anytime")
        body = {"from_number": SALES_LINE, "to_number": to, **fields}
        request = validate_queue(body, now=self.clock())
        self._n += 1
        self.clock.now += 0.001  # distinct queue times, so "oldest first" is well defined
        return self.store.enqueue(owner, request, f"qc_{self._n:024x}")

    def claim(self, budget: int = 10, worker: str = "w1") -> list[DialJob]:
        return self.dial.claim(worker, budget)[0]

    def get(self, queued_id: str, owner: str = OWNER) -> dict[str, Any]:
        found = self.store.get(owner, queued_id)
        assert found is not None
        return found

    def end(self, job: DialJob, outcome: str) -> str | None:
        self.dial.placed(job, f"call_{job.key}")
        settled = self.dial.settle(job.key, outcome=outcome, call_id=f"call_{job.key}")
        return None if settled is None else settled.verdict


@pytest.fixture
def q(engine: Engine, clock: Clock) -> Queue:
    return Queue(engine, clock)


def test_claims_never_exceed_the_budget(q: Queue) -> None:
    """Calls in flight (dialing or calling) never outnumber the budget; an end frees a slot."""
    for _ in range(10):
        q.add()
    first = q.claim(budget=3)
    assert len(first) == 3
    assert q.claim(budget=3) == []
    assert q.dial.in_flight() == 3
    q.end(first[0], "agent_hangup")
    assert len(q.claim(budget=3)) == 1
    assert q.dial.in_flight() == 3


def test_campaigns_take_turns_and_each_goes_oldest_first(q: Queue) -> None:
    """Two campaigns share the budget in turn; within each, the oldest calls go first."""
    a = [q.add(campaign="a")["id"] for _ in range(4)]
    b = [q.add(campaign="b")["id"] for _ in range(4)]
    assert {j.queued_id for j in q.claim(budget=4)} == {a[0], a[1], b[0], b[1]}


def test_the_campaign_that_waited_longest_goes_first(q: Queue) -> None:
    """With one free slot, campaigns alternate instead of the first one winning every time."""
    a = [q.add(campaign="a")["id"] for _ in range(3)]
    b = [q.add(campaign="b")["id"] for _ in range(3)]
    order = []
    for _ in range(4):
        (job,) = q.claim(budget=1)
        order.append(job.queued_id)
        q.clock.now += 1
        q.end(job, "agent_hangup")
    assert order in ([a[0], b[0], a[1], b[1]], [b[0], a[0], b[1], a[1]])


def test_attempt_and_its_key_are_stored_before_the_dial(q: Queue) -> None:
    """The claim commits the attempt with its Retell key; the body carries key and tags."""
    queued = q.add(metadata={"lead": "L-1"}, campaign="spring")
    (job,) = q.claim()
    assert job.key == f"rq-{queued['id']}-1"
    with q.engine.connect() as conn:
        row = conn.execute(select(queued_call_attempts)).one()
    assert (row.upstream_key, row.state, row.number) == (job.key, "dialing", 1)
    body = job.body()
    assert body["idempotency_key"] == job.key
    assert body["metadata"] == {
        "lead": "L-1",
        "retell_connector_request_id": job.key,
        "retell_connector_queued_call_id": queued["id"],
        "retell_connector_campaign": "spring",
    }
    assert q.get(queued["id"])["state"] == "dialing"


def test_new_york_number_queued_at_2am_dials_at_9am_local(q: Queue) -> None:
    """By default a +1 212 number waits for 09:00 in New York, not the server's clock."""
    q.clock.at("2026-12-01T02:00:00-05:00")
    queued = q.add(NEW_YORK, call_window=None)
    assert queued["next_attempt_at"] == "2026-12-01T14:00:00.000Z"
    q.clock.at("2026-12-01T08:59:00-05:00")
    assert q.claim() == []
    q.clock.at("2026-12-01T09:00:00-05:00")
    assert [j.queued_id for j in q.claim()] == [queued["id"]]


def test_london_number_waits_for_london_morning(q: Queue) -> None:
    """A +44 20 number waits for 09:00 London time."""
    q.clock.at("2026-12-01T02:00:00+00:00")
    assert q.add(LONDON, call_window=None)["next_attempt_at"] == "2026-12-01T09:00:00.000Z"


def test_explicit_timezone_wins_over_the_number(q: Queue) -> None:
    """A window with a timezone is read in that zone, whatever the number's."""
    q.clock.at("2026-12-01T20:00:00+00:00")  # 15:00 in New York, 05:00 in Tokyo
    window = {"start": "09:00", "end": "17:00", "timezone": "Asia/Tokyo"}
    queued = q.add(NEW_YORK, call_window=window)
    assert queued["next_attempt_at"] == "2026-12-02T00:00:00.000Z"  # 09:00 in Tokyo


def test_window_closing_while_waiting_moves_the_call_to_the_next_opening(q: Queue) -> None:
    """A call still waiting for capacity when its hours close is not dialled until they reopen."""
    q.clock.at("2026-12-01T19:59:00-05:00")
    queued = q.add(NEW_YORK, call_window=None)
    q.clock.at("2026-12-01T20:01:00-05:00")
    assert q.claim() == []
    assert q.get(queued["id"])["next_attempt_at"] == "2026-12-02T14:00:00.000Z"


def test_campaign_window_applies_when_the_call_gives_none(q: Queue, engine: Engine) -> None:
    """A campaign's own window is used for its calls without one; a call's own wins."""
    from connector.store.tables import campaigns

    q.clock.at("2026-12-01T02:00:00+00:00")
    q.add(campaign="night")  # creates the campaign
    with engine.begin() as conn:
        conn.execute(
            campaigns.update()
            .where(campaigns.c.name == "night")
            .values(call_window=json.dumps({"start": "03:00", "end": "04:00", "timezone": "UTC"}))
        )
    default = q.add(campaign="night", call_window=None)
    own = q.add(campaign="night", call_window="anytime")
    assert default["next_attempt_at"] == "2026-12-01T03:00:00.000Z"
    assert own["next_attempt_at"].startswith("2026-12-01T02:00:00")


def test_no_answer_then_answered(q: Queue) -> None:
    """A retried outcome queues the call again after the wait; an answer completes it."""
    queued = q.add(retry={"outcomes": ["dial_no_answer"], "max_retries": 2, "wait_minutes": 10})
    (first,) = q.claim()
    assert q.end(first, "dial_no_answer") == "retry"
    waiting = q.get(queued["id"])
    assert waiting["state"] == "queued" and waiting["attempts_used"] == 1
    due = dt.datetime.fromisoformat(waiting["next_attempt_at"]).timestamp()
    assert due == pytest.approx(q.clock.now + 600, abs=0.01)
    assert q.claim() == []
    q.clock.now = due
    (second,) = q.claim()
    assert second.key == f"rq-{queued['id']}-2"
    assert q.end(second, "agent_hangup") == "complete"
    done = q.get(queued["id"])
    assert done["state"] == "completed" and done["attempts_used"] == 2
    assert [a["outcome"] for a in done["attempts"]] == ["dial_no_answer", "agent_hangup"]


def test_retries_used_up_fail_and_notify_only_the_owner(q: Queue, engine: Engine) -> None:
    """After the last retry the call fails and queued_call.failed is queued for the owner's
    subscriptions only, with a body valid against queued-call-event.json."""
    subs = SubscriptionStore(engine)
    mine = subs.create(OWNER, "https://example.com/a", ["queued_call.failed"], None)
    subs.create("someone-else", "https://example.com/b", ["queued_call.failed"], None)
    subs.create(OWNER, "https://example.com/c", ["call_ended"], None)
    queued = q.add(retry={"outcomes": ["dial_busy"], "max_retries": 1, "wait_minutes": 0})
    (first,) = q.claim()
    assert q.end(first, "dial_busy") == "retry"
    (second,) = q.claim()
    assert q.end(second, "dial_busy") == "fail"
    failed = q.get(queued["id"])
    assert failed["state"] == "failed" and "retries used up" in failed["reason"]
    with engine.connect() as conn:
        stored = conn.execute(select(events)).one()
        targets = conn.execute(select(deliveries.c.subscription_id)).scalars().all()
    body = json.loads(stored.body)
    assert body["event"] == "queued_call.failed"
    assert body["queued_call"]["id"] == queued["id"]
    assert body["flat"]["attempts_used"] == 2
    assert targets == [mine.id]
    assert list(manifest.schema_validator("queued-call-event.json").iter_errors(body)) == []


def test_concurrency_limit_reached_requeues_without_using_an_attempt(q: Queue) -> None:
    """Retell turning the call away at its limit puts it back at once, uncounted."""
    queued = q.add(retry={"max_retries": 0})
    (job,) = q.claim()
    assert q.end(job, "concurrency_limit_reached") == "requeue"
    back = q.get(queued["id"])
    assert back["state"] == "queued" and back["attempts_used"] == 0
    assert back["attempts"][0]["state"] == "requeued"
    assert back["attempts"][0]["counted"] is False
    q.clock.now += 1
    (again,) = q.claim()
    assert again.number == 2
    assert q.end(again, "agent_hangup") == "complete"


def test_a_429_requeues_without_using_an_attempt(q: Queue) -> None:
    """A dial Retell refused with 429 goes back to the queue after the wait, uncounted."""
    queued = q.add()
    (job,) = q.claim()
    q.dial.requeue(job, delay=5, error="429: slow down")
    back = q.get(queued["id"])
    assert back["state"] == "queued" and back["attempts_used"] == 0
    assert back["attempts"][0]["error"] == "429: slow down"
    assert q.claim() == []
    q.clock.now += 5
    assert len(q.claim()) == 1


def test_expiry_expires_and_notifies(q: Queue, engine: Engine) -> None:
    """A call not placed before expires_at expires, with queued_call.expired."""
    subs = SubscriptionStore(engine)
    sub = subs.create(OWNER, "https://example.com/a", ["queued_call.expired"], None)
    expires = dt.datetime.fromtimestamp(q.clock.now + 60, dt.UTC).isoformat()
    queued = q.add(expires_at=expires)
    q.store.set_paused(OWNER, "default", True)
    assert q.dial.expire_due() == 0
    q.clock.now += 61
    assert q.dial.expire_due() == 1
    assert q.get(queued["id"])["state"] == "expired"
    with engine.connect() as conn:
        body = json.loads(conn.execute(select(events.c.body)).scalar_one())
        target = conn.execute(select(deliveries.c.subscription_id)).scalar_one()
    assert body["event"] == "queued_call.expired" and target == sub.id


def test_a_retry_after_expiry_expires_instead(q: Queue) -> None:
    """A retry due after expires_at ends the call as expired, not queued."""
    expires = dt.datetime.fromtimestamp(q.clock.now + 300, dt.UTC).isoformat()
    queued = q.add(expires_at=expires, retry={"max_retries": 3, "wait_minutes": 10})
    (job,) = q.claim()
    assert q.end(job, "dial_no_answer") == "expire"
    assert q.get(queued["id"])["state"] == "expired"


def test_a_killed_dialers_attempt_is_reconciled_with_the_same_key(q: Queue) -> None:
    """After the lease runs out another dialer gets the same attempt to reconcile, never a
    new number."""
    queued = q.add()
    (job,) = q.claim(worker="killed")
    assert q.claim(worker="other") == []
    q.clock.now += 11
    (again,) = q.claim(worker="other")
    assert again.reconcile and again.key == job.key and again.number == 1
    with q.engine.connect() as conn:
        assert len(conn.execute(select(queued_call_attempts)).all()) == 1
    assert q.get(queued["id"])["state"] == "dialing"


def test_uncertain_dial_is_reconciled_after_its_wait(q: Queue) -> None:
    """A dial that may have reached Retell is retried as a reconcile, with the same key."""
    q.add()
    (job,) = q.claim()
    q.dial.uncertain(job, error="timeout", retry_in=2)
    assert q.claim() == []
    q.clock.now += 3
    (again,) = q.claim()
    assert again.reconcile and again.key == job.key


def test_a_second_end_report_changes_nothing(q: Queue) -> None:
    """call_ended then call_analyzed (or a Retell retry) settle the attempt once."""
    queued = q.add(retry={"max_retries": 2, "wait_minutes": 0})
    (job,) = q.claim()
    assert q.end(job, "dial_no_answer") == "retry"
    assert q.dial.settle(job.key, outcome="dial_no_answer") is None
    assert q.get(queued["id"])["attempts_used"] == 1


def test_an_end_reported_before_the_dial_returned_is_kept(q: Queue) -> None:
    """A short call's end may arrive before Retell's 201 is recorded: the end wins."""
    queued = q.add()
    (job,) = q.claim()
    assert q.dial.settle(job.key, outcome="agent_hangup", call_id="call_1") is not None
    q.dial.placed(job, "call_1")
    done = q.get(queued["id"])
    assert done["state"] == "completed" and done["call_id"] == "call_1"
    assert q.dial.in_flight() == 0


def test_refused_call_fails(q: Queue) -> None:
    """Retell refusing a call for good fails it at once."""
    queued = q.add()
    (job,) = q.claim()
    q.dial.refused(job, reason="Retell refused the call: number on the DNC list")
    failed = q.get(queued["id"])
    assert failed["state"] == "failed" and "DNC" in failed["reason"]
    assert q.dial.in_flight() == 0


def test_unreported_calls_are_handed_out_for_a_lookup_once_per_period(q: Queue) -> None:
    """Calls in flight with no end report come back for a get-call after older_than."""
    q.add()
    (job,) = q.claim()
    q.dial.placed(job, "call_x")
    assert q.dial.unreported(older_than=30, limit=10) == []
    q.clock.now += 31
    assert [k for k, _c, _p in q.dial.unreported(older_than=30, limit=10)] == [job.key]
    assert q.dial.unreported(older_than=30, limit=10) == []


def test_waiting_sees_due_calls_of_running_campaigns_and_stale_dials(q: Queue) -> None:
    """The lock-free look before a claim: nothing, a due call, a paused one, a stale dial."""
    assert q.dial.waiting() == (False, False)
    q.add(campaign="held")
    assert q.dial.waiting() == (True, False)
    q.store.set_paused(OWNER, "held", True)
    assert q.dial.waiting() == (False, False)
    q.store.set_paused(OWNER, "held", False)
    q.claim()
    assert q.dial.waiting() == (False, False)
    q.clock.now += 11  # the dial's lease ran out
    assert q.dial.waiting() == (False, True)


def test_finished_calls_are_forgotten_after_the_retention(q: Queue) -> None:
    """Calls finished longer ago than the retention go, with their attempts; others stay."""
    done = q.add()
    (job,) = q.claim()
    q.end(job, "agent_hangup")
    waiting = q.add()
    q.clock.now += 100
    assert q.dial.purge_finished(older_than=200) == 0
    q.clock.now += 101
    assert q.dial.purge_finished(older_than=200) == 1
    assert q.store.get(OWNER, done["id"]) is None
    assert q.store.get(OWNER, waiting["id"]) is not None
    with q.engine.connect() as conn:
        assert conn.execute(select(queued_call_attempts)).all() == []
