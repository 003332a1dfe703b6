"""Idempotency records on SQLite and PostgreSQL: claim, replay, conflict, reconcile, expiry."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from connector.problems import IdempotencyConflict, IdempotencyKeyReused
from connector.store.idempotency import DAY, IdempotencyStore
from tests.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(1_000_000.0)


@pytest.fixture
def store(engine: Engine, clock: Clock) -> IdempotencyStore:
    return IdempotencyStore(engine, ttl_seconds=2 * DAY, lease_seconds=60, clock=clock)


def test_first_claim_is_new(store: IdempotencyStore) -> None:
    """A key never seen before is claimed for sending."""
    assert store.claim("s", "k", "fp", "up").kind == "new"


def test_completed_key_replays_stored_response(store: IdempotencyStore) -> None:
    """After completion the same key and body get the stored response."""
    store.claim("s", "k", "fp", "up")
    store.complete("s", "k", 201, '{"call_id": "c1"}')
    claim = store.claim("s", "k", "fp", "up")
    assert (claim.kind, claim.status_code, claim.response) == ("replay", 201, '{"call_id": "c1"}')


def test_different_body_is_rejected(store: IdempotencyStore) -> None:
    """The same key with a different body fingerprint is a 422 problem."""
    store.claim("s", "k", "fp", "up")
    with pytest.raises(IdempotencyKeyReused):
        store.claim("s", "k", "other", "up")


def test_in_flight_key_conflicts(store: IdempotencyStore) -> None:
    """A second claim while the first is in flight is a 409 problem."""
    store.claim("s", "k", "fp", "up")
    with pytest.raises(IdempotencyConflict):
        store.claim("s", "k", "fp", "up")


def test_scopes_are_separate(store: IdempotencyStore) -> None:
    """The same key under another token's scope is a different record."""
    store.claim("a", "k", "fp", "up")
    assert store.claim("b", "k", "fp", "up").kind == "new"


def test_expired_lease_is_reconciled(store: IdempotencyStore, clock: Clock) -> None:
    """A claim whose holder died (lease ran out) is handed over for reconciliation."""
    store.claim("s", "k", "fp", "up")
    store.mark_sent("s", "k")
    clock.now += 61
    claim = store.claim("s", "k", "fp", "up")
    assert claim.kind == "reconcile"
    assert claim.sent_at == pytest.approx(clock.now - 61)


def test_unknown_outcome_is_reconciled_once(store: IdempotencyStore) -> None:
    """An unknown outcome is claimed for reconciliation by exactly one retry."""
    store.claim("s", "k", "fp", "up")
    store.mark_unknown("s", "k")
    assert store.claim("s", "k", "fp", "up").kind == "reconcile"
    with pytest.raises(IdempotencyConflict):
        store.claim("s", "k", "fp", "up")


def test_released_key_can_be_claimed_again(store: IdempotencyStore) -> None:
    """A definitive failure frees the key for a fresh attempt."""
    store.claim("s", "k", "fp", "up")
    store.release("s", "k")
    assert store.claim("s", "k", "other-body", "up").kind == "new"


def test_keys_live_48_hours_then_purge(store: IdempotencyStore, clock: Clock) -> None:
    """Records replay for 48 hours, then are purged and the key is new again."""
    store.claim("s", "k", "fp", "up")
    store.complete("s", "k", 201, "{}")
    clock.now += 2 * DAY - 1
    assert store.claim("s", "k", "fp", "up").kind == "replay"
    clock.now += 2
    assert store.purge_expired() == 1
    assert store.claim("s", "k", "fp", "up").kind == "new"


def test_ttl_below_48_hours_is_refused(engine: Engine) -> None:
    """The store refuses to keep keys for less than the contract's 48 hours."""
    with pytest.raises(ValueError, match="48 hours"):
        IdempotencyStore(engine, ttl_seconds=3600)


def test_claims_purge_expired_records_hourly(
    store: IdempotencyStore, engine: Engine, clock: Clock
) -> None:
    """Expired records are deleted by a later claim (at most hourly), with no separate job."""
    from sqlalchemy import select

    from connector.store.tables import idempotency_keys

    store.claim("s", "old", "fp", "up")
    store.complete("s", "old", 201, "{}")
    clock.now += 2 * DAY + 1
    store.claim("s", "new", "fp", "up")
    with engine.connect() as conn:
        keys = conn.execute(select(idempotency_keys.c.key)).scalars().all()
    assert keys == ["new"]
