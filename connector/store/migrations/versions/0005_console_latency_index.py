"""The overview's latency index covers ``created_at`` too (issue 12).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Ranking a day of waits (``delivered_at - created_at``) per hour read every delivered row
from the table; with ``created_at`` in the index the database answers from the index alone
(about four times faster on SQLite with 100,000 deliveries a day).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("connector_deliveries_owner_delivered", table_name="connector_deliveries")
    op.create_index(
        "connector_deliveries_owner_delivered_wait",
        "connector_deliveries",
        ["owner", "delivered_at", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("connector_deliveries_owner_delivered_wait", table_name="connector_deliveries")
    op.create_index(
        "connector_deliveries_owner_delivered", "connector_deliveries", ["owner", "delivered_at"]
    )
