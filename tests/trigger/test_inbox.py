"""The inbox's group commit: many threads, one commit each batch, nothing lost or doubled."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from connector.store.inbox import Accepted, EventInbox
from connector.store.subscriptions import SubscriptionStore
from connector.store.tables import deliveries, events
from tests.conftest import sample_call


def _accept_all(inbox: EventInbox, calls: list[dict[str, Any]]) -> list[Accepted]:
    results: list[Accepted] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(calls))

    def one(call: dict[str, Any]) -> None:
        barrier.wait()
        accepted = inbox.accept("call_ended", call)
        with lock:
            results.append(accepted)

    threads = [threading.Thread(target=one, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_concurrent_events_are_each_committed_once(engine: Engine) -> None:
    """64 threads at once: every event stored, every delivery queued, all acknowledged."""
    SubscriptionStore(engine).create("owner", "https://hooks.example.com/a", ["call_ended"], None)
    inbox = EventInbox(engine)
    results = _accept_all(inbox, [sample_call(call_id=f"c{n}") for n in range(64)])
    assert len(results) == 64 and not any(r.duplicate for r in results)
    assert _count(engine, events) == 64
    assert _count(engine, deliveries) == 64


def test_duplicates_in_one_batch_are_detected(engine: Engine) -> None:
    """The same (call_id, event) sent by many threads at once is stored exactly once."""
    SubscriptionStore(engine).create("owner", "https://hooks.example.com/a", ["call_ended"], None)
    results = _accept_all(EventInbox(engine), [sample_call(call_id="same")] * 16)
    assert sum(not r.duplicate for r in results) == 1
    assert _count(engine, events) == 1
    assert _count(engine, deliveries) == 1


def _subscribed_to(engine: Engine, agent_id: str) -> set[str]:
    """The subscriptions a call_ended event of ``agent_id`` was queued for, by target URL."""
    found = select(deliveries.c.subscription_id)
    with engine.connect() as conn:
        ids = set(
            conn.execute(
                found.where(
                    deliveries.c.event_id.in_(
                        select(events.c.id).where(events.c.agent_id == agent_id)
                    )
                )
            ).scalars()
        )
    return {s.target_url for s in SubscriptionStore(engine).active() if s.id in ids}


@pytest.mark.parametrize(
    ("agent_id", "queued_for"),
    [
        ("agent_1", {"https://hooks.example.com/all", "https://hooks.example.com/agent-1"}),
        ("agent_2", {"https://hooks.example.com/all"}),
    ],
)
def test_each_matching_subscription_gets_one_delivery(
    engine: Engine, agent_id: str, queued_for: set[str]
) -> None:
    """An event is queued for the active subscriptions to its event and agent, no others:
    not another event's, another agent's, or a responder's."""
    store = SubscriptionStore(engine)
    store.create("owner", "https://hooks.example.com/all", ["call_ended"], None)
    store.create("owner", "https://hooks.example.com/agent-1", ["call_ended"], "agent_1")
    store.create("owner", "https://hooks.example.com/analyzed", ["call_analyzed"], None)
    store.create(
        "owner", "https://hooks.example.com/responder", ["call_ended"], None, mode="respond"
    )
    accepted = EventInbox(engine).accept("call_ended", sample_call(agent_id=agent_id))
    assert accepted.deliveries == len(queued_for) and not accepted.duplicate
    assert _subscribed_to(engine, agent_id) == queued_for


def test_a_duplicate_queues_nothing_more(engine: Engine) -> None:
    """The same event again is reported a duplicate and queues no second delivery."""
    SubscriptionStore(engine).create("owner", "https://hooks.example.com/a", ["call_ended"], None)
    inbox = EventInbox(engine)
    first = inbox.accept("call_ended", sample_call())
    again = inbox.accept("call_ended", sample_call())
    assert (first.duplicate, first.deliveries) == (False, 1)
    assert (again.duplicate, again.deliveries) == (True, 0)
    assert _count(engine, deliveries) == 1


def test_a_failing_event_does_not_fail_its_batch(engine: Engine) -> None:
    """An event that cannot be stored fails alone; the others in its batch are committed."""
    inbox = EventInbox(engine)
    bad = sample_call(call_id="x" * 400)  # longer than the call_id column allows on PostgreSQL
    calls = [sample_call(call_id=f"ok{n}") for n in range(8)]
    outcomes: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(calls) + 1)

    def one(call: dict[str, Any]) -> None:
        barrier.wait()
        try:
            result: object = inbox.accept("call_ended", call)
        except Exception as exc:
            result = exc
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=(c,)) for c in [*calls, bad]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    stored = 8 if engine.dialect.name == "postgresql" else 9  # SQLite does not check lengths
    assert sum(isinstance(o, Accepted) for o in outcomes) == stored
    assert _count(engine, events) == stored
