"""The inbound store on SQLite and PostgreSQL: claims of one request, contacts across tokens."""

from __future__ import annotations

from sqlalchemy import Engine

from connector.store.inbound_answers import AnswerLedger
from connector.store.inbound_contacts import ContactStore
from connector.store.inbound_rules import RuleStore
from tests.inbound.conftest import CALLER, Clock

EVENT = {
    "dedupe_key": "call_inbound:evt_1",
    "event": "call_inbound",
    "call_id": "",
    "agent_id": None,
    "body": "{}",
}


def record(ledger: AnswerLedger, key: str, event_id: str, answer: dict[str, object]) -> None:
    ledger.record(
        key,
        answer,
        keep_seconds=120,
        event={**EVENT, "id": event_id, "received_at": 0.0},
        queued=[],
        attempts=[],
    )


def test_first_claim_wins_and_a_retry_finds_the_answer(engine: Engine) -> None:
    """One claim is new; a retry while it works is pending; after the record, answered."""
    clock = Clock(1000.0)
    ledger = AnswerLedger(engine, clock=clock)
    assert ledger.claim("k", "evt_1", hold_seconds=10).kind == "new"
    pending = ledger.claim("k", "evt_2", hold_seconds=10)
    assert (pending.kind, pending.event_id) == ("pending", "evt_1")
    record(ledger, "k", "evt_1", {"call_inbound": {}})
    answered = ledger.claim("k", "evt_3", hold_seconds=10)
    assert (answered.kind, answered.event_id, answered.answer) == (
        "answered",
        "evt_1",
        {"call_inbound": {}},
    )


def test_a_dead_claim_is_taken_over(engine: Engine) -> None:
    """A claim whose holder never answered runs out; the next request takes it."""
    clock = Clock(1000.0)
    ledger = AnswerLedger(engine, clock=clock)
    ledger.claim("k", "evt_1", hold_seconds=10)
    clock.now += 11
    assert ledger.claim("k", "evt_2", hold_seconds=10).kind == "new"


def test_a_released_claim_starts_afresh(engine: Engine) -> None:
    """A request that failed releases its claim: the retry works it out again at once."""
    ledger = AnswerLedger(engine, clock=Clock(1000.0))
    ledger.claim("k", "evt_1", hold_seconds=10)
    ledger.release("k", "evt_1")
    assert ledger.claim("k", "evt_2", hold_seconds=10).kind == "new"


def test_answers_expire_and_are_purged(engine: Engine) -> None:
    """An answer is replayed while kept, then purged; the same request is then new."""
    clock = Clock(1000.0)
    ledger = AnswerLedger(engine, clock=clock)
    ledger.claim("k", "evt_1", hold_seconds=10)
    record(ledger, "k", "evt_1", {"call_inbound": {}})
    clock.now += 121
    assert ledger.purge() == 1
    assert ledger.answered("k") is None
    assert ledger.claim("k", "evt_2", hold_seconds=10).kind == "new"


def test_contacts_of_every_token_for_a_caller_oldest_first(engine: Engine) -> None:
    """Each token keeps its own copy; a call sees them all, least recently saved first."""
    clock = Clock(1000.0)
    contacts = ContactStore(engine, clock=clock)
    contacts.put("token_b", CALLER, {"dynamic_variables": {"first_name": "B"}})
    clock.now += 1
    contacts.put("token_a", CALLER, {"dynamic_variables": {"first_name": "A"}})
    clock.now += 1
    saved, created = contacts.put("token_b", CALLER, {"dynamic_variables": {"first_name": "B2"}})
    assert (created, saved.created_at, saved.updated_at) == (False, 1000.0, 1002.0)
    found = contacts.for_caller(CALLER)
    assert [(c.owner, c.context["dynamic_variables"]["first_name"]) for c in found] == [
        ("token_a", "A"),
        ("token_b", "B2"),
    ]


def test_every_rule_in_the_order_tried(engine: Engine) -> None:
    """Rules of all tokens come out by position, then age; each token lists only its own."""
    clock = Clock(1000.0)
    rules = RuleStore(engine, clock=clock)
    late = rules.create("token_a", {"name": "late", "position": 30})
    clock.now += 1
    early = rules.create("token_b", {"name": "early", "position": 5})
    clock.now += 1
    tie = rules.create("token_a", {"name": "tie", "position": 5})
    assert [r.id for r in rules.every()] == [early.id, tie.id, late.id]
    assert [r.id for r in rules.of_owner("token_a")] == [tie.id, late.id]
