"""The one join every delivery reader starts from: a delivery with its event and subscription.

The subscription is an outer join so a delivery outlives the subscription that queued it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from connector.store.tables import deliveries, events, subscriptions

__all__ = ["delivery_rows"]


def delivery_rows(*columns: Any) -> Select[Any]:
    """``SELECT columns FROM deliveries JOIN events LEFT JOIN subscriptions``, unfiltered."""
    c = deliveries.c
    return select(*columns).select_from(
        deliveries.join(events, events.c.id == c.event_id).outerjoin(
            subscriptions, subscriptions.c.id == c.subscription_id
        )
    )
