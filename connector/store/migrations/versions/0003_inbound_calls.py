"""Inbound calls (issue 13): routing rules, saved caller context, the answer cache, and the
subscription columns for responders (``mode``, ``respond_timeout_seconds``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_inbound_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "connector_inbound_rules_order", "connector_inbound_rules", ["position", "created_at"]
    )
    op.create_index(
        "connector_inbound_rules_owner", "connector_inbound_rules", ["owner", "position"]
    )
    op.create_table(
        "connector_inbound_contacts",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "phone_number"),
    )
    op.create_index(
        "connector_inbound_contacts_number", "connector_inbound_contacts", ["phone_number"]
    )
    op.create_table(
        "connector_inbound_answers",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("connector_inbound_answers_expiry", "connector_inbound_answers", ["expires_at"])
    with op.batch_alter_table("connector_subscriptions") as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=16), server_default="deliver", nullable=False)
        )
        batch_op.add_column(sa.Column("respond_timeout_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_subscriptions") as batch_op:
        batch_op.drop_column("respond_timeout_seconds")
        batch_op.drop_column("mode")
    op.drop_table("connector_inbound_answers")
    op.drop_table("connector_inbound_contacts")
    op.drop_table("connector_inbound_rules")
