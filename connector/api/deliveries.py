"""The delivery log and manual replay of a delivery (typically a dead letter)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from connector.api.auth import protect
from connector.api.params import limit_arg
from connector.problems import FieldError, NotFound, ReplayConflict, ValidationFailed
from connector.services import services

__all__ = ["bp"]

bp = protect(Blueprint("deliveries", __name__, url_prefix="/v1/deliveries"))

STATES = ("pending", "delivering", "succeeded", "dead", "cancelled")


@bp.get("")
def list_deliveries() -> dict[str, Any]:
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ValidationFailed(
            "Unknown delivery state.",
            errors=[FieldError("state", f"must be one of {', '.join(STATES)}")],
        )
    items = services().delivery_log.find(
        g.token_scope,
        state=state,
        subscription_id=request.args.get("subscription_id") or None,
        limit=limit_arg(default=50, maximum=500),
    )
    return {"items": items}


@bp.post("/<delivery_id>/retry")
def retry(delivery_id: str) -> tuple[dict[str, Any], int]:
    outcome = services().queue.replay(g.token_scope, delivery_id)
    if outcome == "not_found":
        raise NotFound(f"No delivery {delivery_id!r}.")
    if outcome == "busy":
        raise ReplayConflict("The delivery is still queued or being delivered.")
    if outcome == "unsubscribed":
        raise ReplayConflict("Its subscription was deleted; subscribe again to receive events.")
    services().wake_delivery()
    (item,) = services().delivery_log.find(g.token_scope, delivery_id=delivery_id)
    return item, 202
