-- What metadata.create_all made before the connector had migrations (commit 85f31ca), as
-- SQLAlchemy emitted it; the same text serves SQLite and PostgreSQL. Never edit: it is history.
CREATE TABLE connector_deliveries (
	id VARCHAR(40) NOT NULL,
	event_id VARCHAR(40) NOT NULL,
	subscription_id VARCHAR(40) NOT NULL,
	owner VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL,
	attempts INTEGER NOT NULL,
	cycle_start INTEGER NOT NULL,
	next_attempt_at FLOAT,
	lease_until FLOAT,
	leased_by VARCHAR(64),
	last_status INTEGER,
	last_error TEXT,
	created_at FLOAT NOT NULL,
	delivered_at FLOAT,
	PRIMARY KEY (id)
);
CREATE INDEX connector_deliveries_due ON connector_deliveries (state, next_attempt_at);
CREATE INDEX connector_deliveries_leases ON connector_deliveries (state, lease_until);
CREATE INDEX connector_deliveries_subscription ON connector_deliveries (subscription_id, state);
CREATE TABLE connector_delivery_attempts (
	delivery_id VARCHAR(40) NOT NULL,
	attempt INTEGER NOT NULL,
	at FLOAT NOT NULL,
	status_code INTEGER,
	error TEXT,
	duration_ms FLOAT NOT NULL,
	response_body TEXT,
	PRIMARY KEY (delivery_id, attempt)
);
CREATE TABLE connector_events (
	id VARCHAR(40) NOT NULL,
	dedupe_key VARCHAR(255) NOT NULL,
	event VARCHAR(64) NOT NULL,
	call_id VARCHAR(128) NOT NULL,
	agent_id VARCHAR(128),
	body TEXT NOT NULL,
	received_at FLOAT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (dedupe_key)
);
CREATE INDEX connector_events_received ON connector_events (received_at);
CREATE TABLE connector_idempotency_keys (
	scope VARCHAR(128) NOT NULL,
	"key" VARCHAR(255) NOT NULL,
	fingerprint VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL,
	upstream_key VARCHAR(64) NOT NULL,
	status_code INTEGER,
	response TEXT,
	created_at FLOAT NOT NULL,
	sent_at FLOAT,
	lease_until FLOAT NOT NULL,
	expires_at FLOAT NOT NULL,
	PRIMARY KEY (scope, "key")
);
CREATE INDEX connector_idempotency_keys_expires ON connector_idempotency_keys (expires_at);
CREATE TABLE connector_subscriptions (
	id VARCHAR(40) NOT NULL,
	owner VARCHAR(64) NOT NULL,
	target_url TEXT NOT NULL,
	events TEXT NOT NULL,
	agent_id VARCHAR(128),
	secret VARCHAR(128) NOT NULL,
	status VARCHAR(16) NOT NULL,
	disabled_reason TEXT,
	failing_since FLOAT,
	created_at FLOAT NOT NULL,
	PRIMARY KEY (id)
);
