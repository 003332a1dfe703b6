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
    "campaigns",
    "deliveries",
    "delivery_attempts",
    "events",
    "idempotency_keys",
    "inbound_answers",
    "inbound_contacts",
    "inbound_rules",
    "metadata",
    "queued_call_attempts",
    "queued_calls",
    "secrets",
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
    # deliver: events are queued for it; respond: it answers inbound calls (issue 13)
    Column("mode", String(16), nullable=False, server_default="deliver"),
    Column("respond_timeout_seconds", Float),  # a responder's answer budget
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
    # The console's delivery log (issue 12): newest first per owner, by state, by subscription.
    Index("connector_deliveries_owner_created", "owner", "created_at", "id"),
    Index("connector_deliveries_owner_state", "owner", "state", "created_at", "id"),
    Index("connector_deliveries_subscription_created", "subscription_id", "created_at", "id"),
    # covering: the overview ranks waits (delivered_at - created_at) without reading rows
    Index("connector_deliveries_owner_delivered_wait", "owner", "delivered_at", "created_at"),
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
    Index("connector_delivery_attempts_at", "at"),  # the console's attempts per hour
)

# Campaigns (issue 11): one row per (token, campaign name), created with its first queued call.
campaigns = Table(
    "connector_campaigns",
    metadata,
    Column("owner", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("paused", Integer, nullable=False, default=0),
    Column("call_window", Text),  # JSON; null: the default window
    Column("last_dial_at", Float),  # round-robin: the campaign that waited longest goes first
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("owner", "name"),
)

# Calls waiting to be dialled, being dialled, or done; see connector.campaigns.
queued_calls = Table(
    "connector_queued_calls",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("campaign", String(100), nullable=False),
    # queued | dialing | calling | completed | failed | expired | cancelled
    Column("state", String(16), nullable=False),
    Column("request", Text, nullable=False),  # the validated create-phone-call body, JSON
    Column("to_number", String(32), nullable=False),
    Column("call_window", Text),  # JSON; null: the campaign's window
    Column("retry", Text, nullable=False),  # JSON retry policy
    Column("not_before", Float),
    Column("expires_at", Float),
    Column("next_attempt_at", Float),
    Column("attempts", Integer, nullable=False, default=0),  # attempts that counted
    Column("dials", Integer, nullable=False, default=0),  # dial numbers handed out
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

# Each dial of a queued call, under its own Retell idempotency key (stored before the dial).
queued_call_attempts = Table(
    "connector_queued_call_attempts",
    metadata,
    Column("queued_call_id", String(40), nullable=False),
    Column("number", Integer, nullable=False),
    Column("upstream_key", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # dialing | placed | ended | requeued
    Column("call_id", String(128)),
    Column("outcome", String(64)),
    Column("counted", Integer, nullable=False, default=0),  # 1: it used up an attempt
    Column("error", Text),
    Column("dialled_at", Float, nullable=False),
    Column("placed_at", Float),
    Column("checked_at", Float),  # last look at Retell for a call that never reported
    Column("ended_at", Float),
    PrimaryKeyConstraint("queued_call_id", "number"),
    Index("connector_queued_call_attempts_open", "state", "checked_at"),
    Index("connector_queued_call_attempts_dialled", "dialled_at"),
)

# Inbound routing rules (issue 13), matched first to last by (position, created_at, id).
inbound_rules = Table(
    "connector_inbound_rules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the validated rule (match and answer)
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("connector_inbound_rules_order", "position", "created_at"),
    Index("connector_inbound_rules_owner", "owner", "position"),
)

# Saved caller context, one row per (token, caller number in E.164).
inbound_contacts = Table(
    "connector_inbound_contacts",
    metadata,
    Column("owner", String(64), nullable=False),
    Column("phone_number", String(32), nullable=False),
    Column("context", Text, nullable=False),  # JSON: variables, metadata, optional agent
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    PrimaryKeyConstraint("owner", "phone_number"),
    Index("connector_inbound_contacts_number", "phone_number"),
)

# The answer given to one inbound request, kept briefly so Retell's retries get it again.
inbound_answers = Table(
    "connector_inbound_answers",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 of the request's canonical JSON
    Column("event_id", String(40), nullable=False),
    Column("state", String(16), nullable=False),  # pending | answered
    Column("answer", Text),  # the JSON answer sent to Retell
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("connector_inbound_answers_expiry", "expires_at"),
)

# Secrets the connector makes for itself once and every process shares (the console's cookie
# signing key when CONNECTOR_CONSOLE_SECRET is unset): the first process to start writes it.
secrets = Table(
    "connector_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
