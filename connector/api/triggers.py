"""The call-events trigger: REST-hook subscriptions, a polling endpoint and sample data."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for

from connector.api.auth import protect
from connector.api.body import json_body
from connector.api.params import limit_arg
from connector.api.urls import public_base_url
from connector.campaigns.notices import QUEUED_CALL_EVENTS, sample_queued_events
from connector.delivery.ssrf import TargetRefused, validate_target_url
from connector.events import CALL_EVENTS, DEFAULT_EVENTS, INBOUND_EVENTS
from connector.inbound.events import sample_inbound_event
from connector.polling import poll_call_events
from connector.problems import FieldError, NotFound, ValidationFailed, nul_errors
from connector.samples import sample_events
from connector.services import services
from connector.validation import validate_object

__all__ = ["bp"]

bp = protect(Blueprint("triggers", __name__, url_prefix="/v1/triggers/call-events"))

MAX_POLL_LIMIT = 100
SAMPLE_SIZE = 3


@bp.post("/subscriptions")
def subscribe() -> tuple[dict[str, Any], int, dict[str, str]]:
    raw = json_body()
    if isinstance(raw, dict):  # platforms send blank optional inputs as null or ""
        raw = {k: v for k, v in raw.items() if not (k != "target_url" and v in (None, ""))}
    body = validate_object(
        raw, "subscription.input.json", outcome="The subscription was not created"
    )
    _check_agent_id(body.get("agent_id") or "")
    allow_private = services().settings.connector_allow_private_targets
    try:
        target = validate_target_url(body["target_url"], allow_private=allow_private)
    except TargetRefused as exc:
        raise ValidationFailed(
            "The target URL is not allowed.", errors=[FieldError("target_url", str(exc))]
        ) from None
    events, mode, budget = _delivery_mode(body)
    created = services().subscriptions.create(
        g.token_scope,
        target,
        events,
        body.get("agent_id"),
        mode=mode,
        respond_timeout_seconds=budget,
    )
    # Location names the subscription for platforms that unsubscribe by DELETE-ing it
    # (Power Automate's webhook triggers do).
    location = public_base_url() + url_for(".unsubscribe", subscription_id=created.id)
    return created.public(with_secret=True), 201, {"Location": location}


def _check_agent_id(agent_id: str) -> None:
    """What the schema cannot say: no NUL (PostgreSQL text cannot hold one; it refused the
    row and the client got a 503). The column width is the schema's maxLength, so the
    platforms' forms show it too."""
    errors = nul_errors({"agent_id": agent_id})
    if errors:
        raise ValidationFailed("Invalid agent_id.", errors=errors)


def _delivery_mode(body: dict[str, Any]) -> tuple[list[str], str, float | None]:
    """Events, mode and budget: a responder (``mode: "respond"``, issue 13) answers inbound
    calls, so it takes only ``call_inbound`` and alone has a time budget."""
    mode = body.get("mode") or "deliver"
    budget = body.get("respond_timeout_seconds")
    if mode == "deliver":
        if budget is not None:
            raise ValidationFailed(
                "Only a responder has an answer time.",
                errors=[
                    FieldError("respond_timeout_seconds", 'is only for mode "respond"; remove it')
                ],
            )
        return body.get("events") or list(DEFAULT_EVENTS), mode, None
    events = body.get("events") or list(INBOUND_EVENTS)
    if list(events) != list(INBOUND_EVENTS):
        raise ValidationFailed(
            "A responder answers inbound calls only.",
            errors=[
                FieldError("events", 'must be ["call_inbound"] (or left out) for mode "respond"')
            ],
        )
    return events, mode, budget


@bp.get("/subscriptions")
def list_subscriptions() -> dict[str, Any]:
    items = services().subscriptions.of_owner(g.token_scope)
    return {"items": [s.public() for s in items]}


@bp.delete("/subscriptions/<subscription_id>")
def unsubscribe(subscription_id: str) -> dict[str, Any]:
    if not services().subscriptions.delete(g.token_scope, subscription_id):
        raise NotFound(f"No subscription {subscription_id!r}.")
    return {"id": subscription_id, "deleted": True}


def _event_filter(known: tuple[str, ...] = CALL_EVENTS) -> list[str]:
    raw_names = request.args.getlist("event") + request.args.getlist("events")
    names = [n.strip() for raw in raw_names for n in raw.split(",")]
    names = [n for n in names if n] or list(DEFAULT_EVENTS)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationFailed(
            "Unknown event name.",
            errors=[FieldError("event", f"{unknown[0]!r} is not one of {', '.join(known)}")],
        )
    return names


@bp.get("")
def poll() -> Response:
    """Newest first, full calls with transcripts, each item with a stable unique ``id``."""
    items = poll_call_events(
        services().retell,
        events=_event_filter(),
        agent_id=request.args.get("agent_id") or None,
        limit=limit_arg(default=25, maximum=MAX_POLL_LIMIT),
    )
    return jsonify(items)


@bp.get("/sample")
def sample() -> Response:
    """Real recent events where there are any, else a realistic built-in sample.

    Queued-call and inbound-call events are always the built-in sample: stored ones may carry
    other tokens' queued calls or saved caller context.
    """
    names = _event_filter(CALL_EVENTS + INBOUND_EVENTS + QUEUED_CALL_EVENTS)
    queued = [n for n in names if n in QUEUED_CALL_EVENTS]
    calls = [n for n in names if n in CALL_EVENTS]
    items: list[dict[str, Any]] = []
    if calls:
        agent_id = request.args.get("agent_id") or None
        recent = services().inbox.recent(calls, agent_id=agent_id, limit=SAMPLE_SIZE)
        items += recent or sample_events(calls)
    if set(INBOUND_EVENTS) & set(names):
        items.append(sample_inbound_event())
    items += sample_queued_events(queued, time.time())
    return jsonify(items[:SAMPLE_SIZE])
