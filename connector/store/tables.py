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

__all__ = ["idempotency_keys", "metadata"]

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
