"""Campaigns (issue 11): campaigns, queued calls and their dial attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

A frozen copy of the three tables as ``tables.py`` first declared them.
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

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_campaigns = MetaData()

Table(
    "connector_campaigns",
    _campaigns,
    Column("owner", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("paused", Integer, nullable=False),
    Column("call_window", Text),
    Column("last_dial_at", Float),
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("owner", "name"),
)

Table(
    "connector_queued_calls",
    _campaigns,
    Column("id", String(40), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("campaign", String(100), nullable=False),
    Column("state", String(16), nullable=False),
    Column("request", Text, nullable=False),
    Column("to_number", String(32), nullable=False),
    Column("call_window", Text),
    Column("retry", Text, nullable=False),
    Column("not_before", Float),
    Column("expires_at", Float),
    Column("next_attempt_at", Float),
    Column("attempts", Integer, nullable=False),
    Column("dials", Integer, nullable=False),
    Column("call_id", String(128)),
    Column("lease_until", Float),
    Column("leased_by", String(64)),
    Column("last_outcome", String(64)),
    Column("reason", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float),
    Index("connector_queued_calls_due", "state", "next_attempt_at"),
    Index("connector_queued_calls_campaign", "owner", "campaign", "state", "created_at"),
    Index("connector_queued_calls_leases", "state", "lease_until"),
    Index("connector_queued_calls_expiry", "state", "expires_at"),
    Index("connector_queued_calls_owner", "owner", "created_at"),
)

Table(
    "connector_queued_call_attempts",
    _campaigns,
    Column("queued_call_id", String(40), nullable=False),
    Column("number", Integer, nullable=False),
    Column("upstream_key", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("call_id", String(128)),
    Column("outcome", String(64)),
    Column("counted", Integer, nullable=False),
    Column("error", Text),
    Column("dialled_at", Float, nullable=False),
    Column("placed_at", Float),
    Column("checked_at", Float),
    Column("ended_at", Float),
    PrimaryKeyConstraint("queued_call_id", "number"),
    Index("connector_queued_call_attempts_open", "state", "checked_at"),
    Index("connector_queued_call_attempts_dialled", "dialled_at"),
)


def upgrade() -> None:
    _campaigns.create_all(op.get_bind())


def downgrade() -> None:
    _campaigns.drop_all(op.get_bind())
