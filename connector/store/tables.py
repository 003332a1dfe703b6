"""Every table the connector owns (all prefixed ``connector_``, so a shared database is safe)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

__all__ = [
    "deliveries",
    "delivery_attempts",
    "events",
    "idempotency_keys",
    "metadata",
    "subscriptions",
]

metadata = MetaData()

# One row per (scope, key) of the create-phone-call action; see connector.store.idempotency.
idempotency_keys = Table(
    "connector_idempotency_keys",
    metadata,
    Column("scope", String(128), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # in_flight | unknown | done
    Column("upstream_key", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("lease_until", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
    Index("connector_idempotency_keys_expires", "expires_at"),
)

# REST-hook subscriptions of platforms to call events (DESIGN §5).
subscriptions = Table(
    "connector_subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner", String(64), nullable=False),  # hash of the platform token that created it
    Column("target_url", Text, nullable=False),
    Column("events", Text, nullable=False),  # JSON list of event names
    Column("agent_id", String(128)),
    Column("secret", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # active | disabled
    Column("disabled_reason", Text),
    Column("failing_since", Float),
    Column("created_at", Float, nullable=False),
)

# Every accepted Retell event, once per dedupe key; ``body`` is the forwarded JSON.
events = Table(
    "connector_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("event", String(64), nullable=False),
    Column("call_id", String(128), nullable=False),
    Column("agent_id", String(128)),
    Column("body", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Index("connector_events_received", "received_at"),
)

# One row per (event, subscription): the outbox the delivery workers drain.
deliveries = Table(
    "connector_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), nullable=False),
    Column("subscription_id", String(40), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # pending|delivering|succeeded|dead|cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("cycle_start", Integer, nullable=False, default=0),  # attempts before a replay
    Column("next_attempt_at", Float),
    Column("lease_until", Float),
    Column("leased_by", String(64)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index("connector_deliveries_due", "state", "next_attempt_at"),
    Index("connector_deliveries_leases", "state", "lease_until"),
    Index("connector_deliveries_subscription", "subscription_id", "state"),
)

# Each delivery attempt, for the delivery log.
delivery_attempts = Table(
    "connector_delivery_attempts",
    metadata,
    Column("delivery_id", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Float, nullable=False),
    Column("response_body", Text),
    PrimaryKeyConstraint("delivery_id", "attempt"),
)
