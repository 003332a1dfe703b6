"""The tables as ``metadata.create_all`` made them before the connector had migrations.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

A database from that time has these tables and no ``alembic_version``; it is adopted by
running this revision over it, which creates only the tables that are missing. The
definitions are a frozen copy (``tables.py`` moves on; this file never changes), so later
revisions alter from a known starting point.
"""

from __future__ import annotations

from alembic import op
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

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_baseline = MetaData()

Table(
    "connector_idempotency_keys",
    _baseline,
    Column("scope", String(128), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
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

Table(
    "connector_subscriptions",
    _baseline,
    Column("id", String(40), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("target_url", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("agent_id", String(128)),
    Column("secret", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("disabled_reason", Text),
    Column("failing_since", Float),
    Column("created_at", Float, nullable=False),
)

Table(
    "connector_events",
    _baseline,
    Column("id", String(40), primary_key=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("event", String(64), nullable=False),
    Column("call_id", String(128), nullable=False),
    Column("agent_id", String(128)),
    Column("body", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Index("connector_events_received", "received_at"),
)

Table(
    "connector_deliveries",
    _baseline,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), nullable=False),
    Column("subscription_id", String(40), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("cycle_start", Integer, nullable=False),
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

Table(
    "connector_delivery_attempts",
    _baseline,
    Column("delivery_id", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Float, nullable=False),
    Column("response_body", Text),
    PrimaryKeyConstraint("delivery_id", "attempt"),
)


def upgrade() -> None:
    # checkfirst: a pre-migration database already has some or all of these.
    _baseline.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    _baseline.drop_all(op.get_bind())
