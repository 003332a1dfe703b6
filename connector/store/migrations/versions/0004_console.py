"""The console (issue 12): indexes for its delivery log and charts, and the shared secrets table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

The delivery log pages newest first by owner (optionally by state or subscription) with a
keyset cursor on ``(created_at, id)``; the overview counts attempts per hour by time. Each of
those reads walks one of these indexes instead of scanning the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_DELIVERY_INDEXES = (
    ("connector_deliveries_owner_created", ["owner", "created_at", "id"]),
    ("connector_deliveries_owner_state", ["owner", "state", "created_at", "id"]),
    ("connector_deliveries_subscription_created", ["subscription_id", "created_at", "id"]),
    ("connector_deliveries_owner_delivered", ["owner", "delivered_at"]),
)


def upgrade() -> None:
    op.create_table(
        "connector_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    for name, columns in _DELIVERY_INDEXES:
        op.create_index(name, "connector_deliveries", columns)
    op.create_index("connector_delivery_attempts_at", "connector_delivery_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("connector_delivery_attempts_at", table_name="connector_delivery_attempts")
    for name, _columns in reversed(_DELIVERY_INDEXES):
        op.drop_index(name, table_name="connector_deliveries")
    op.drop_table("connector_secrets")
