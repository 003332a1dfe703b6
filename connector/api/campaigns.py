"""Campaigns: the Queue Phone Call action, the queue, and campaign progress and control.

``POST /v1/actions/queue-phone-call`` answers 202 at once with the queued call; the dialer
places it later. Everything here is scoped to the calling token.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from flask import Blueprint, Response, g, json, request

from connector.api.auth import protect
from connector.api.body import json_body
from connector.api.params import limit_arg
from connector.campaigns.queue import STATES, CancelRefused, decode_cursor
from connector.problems import FieldError, NotFound, Problem, ValidationFailed
from connector.services import services
from connector.validation import validate_idempotency_key, validate_object

__all__ = ["bp"]

bp = protect(Blueprint("campaigns", __name__, url_prefix="/v1"))

_CAMPAIGN = re.compile(r"[A-Za-z0-9_.:-]([A-Za-z0-9 _.:-]{0,98}[A-Za-z0-9_.:-])?")
_QUEUED_ID = re.compile(r"qc_[0-9a-f]{24}")
MAX_PAGE = 200


class NotCancellable(Problem):
    """The queued call was already dialled, or has finished."""

    status: ClassVar[int] = 409
    slug: ClassVar[str] = "queued-call-not-cancellable"
    title: ClassVar[str] = "Queued call can no longer be cancelled"


_TOO_LATE = {
    "dialing": "it is being dialled right now",
    "calling": "its call is in progress",
    "completed": "its call has already taken place",
    "failed": "it has already failed",
    "expired": "it has already expired",
}


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status, mimetype="application/json")


def _campaign_name(name: str) -> str:
    if not _CAMPAIGN.fullmatch(name):
        raise ValidationFailed(
            "Invalid campaign name.",
            errors=[
                FieldError(
                    "campaign",
                    "must be 1 to 100 letters, digits, spaces, dots, dashes, colons or underscores",
                )
            ],
        )
    return name


@bp.post("/actions/queue-phone-call")
def queue_phone_call() -> Response:
    body = json_body()
    raw = request.headers.get("Idempotency-Key")
    header = None if raw is None else validate_idempotency_key(raw.strip(), path="Idempotency-Key")
    result = services().campaigns.queue(g.token_scope, body, header_key=header)
    response = Response(result.body, result.status, mimetype="application/json")
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/queue")
def list_queue() -> Response:
    campaign = request.args.get("campaign") or None
    state = request.args.get("state") or None
    if campaign is not None:
        _campaign_name(campaign)
    if state is not None and state not in STATES:
        raise ValidationFailed(
            "Unknown state.",
            errors=[FieldError("state", f"must be one of {', '.join(STATES)}")],
        )
    cursor = request.args.get("cursor") or None
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError as exc:
            raise ValidationFailed(
                "Invalid cursor.", errors=[FieldError("cursor", str(exc))]
            ) from None
    page = services().campaigns.page(
        g.token_scope,
        campaign=campaign,
        state=state,
        limit=limit_arg(default=50, maximum=MAX_PAGE),
        cursor=cursor,
    )
    return _json({"items": page.items, "next_cursor": page.next_cursor})


def _queued(queued_id: str) -> dict[str, Any]:
    found = None
    if _QUEUED_ID.fullmatch(queued_id):
        found = services().campaigns.get(g.token_scope, queued_id)
    if found is None:
        raise NotFound(f"No queued call {queued_id!r}.")
    return found


def _action_id(value: object) -> str:
    """The ``queued_call_id`` of a platform action, checked."""
    if not isinstance(value, str) or not _QUEUED_ID.fullmatch(value.strip()):
        raise ValidationFailed(
            "A queued_call_id is required.",
            errors=[
                FieldError(
                    "queued_call_id",
                    "must be the id Queue Phone Call returned, like qc_5d1f0c3b9a7e42d8b6c1a0f3",
                )
            ],
        )
    return value.strip()


@bp.get("/actions/find-queued-call")
def find_queued_call() -> Response:
    """The platform search: one queued call by id (the same as GET /v1/queue/<id>)."""
    return _json(_queued(_action_id(request.args.get("queued_call_id"))))


@bp.post("/actions/cancel-queued-call")
def cancel_queued_call_action() -> Response:
    """The platform action: cancel by id in the body (the same as DELETE /v1/queue/<id>)."""
    body = json_body()
    return cancel_queued(_action_id(body.get("queued_call_id") if isinstance(body, dict) else None))


@bp.get("/queue/<queued_id>")
def get_queued(queued_id: str) -> Response:
    return _json(_queued(queued_id))


@bp.delete("/queue/<queued_id>")
def cancel_queued(queued_id: str) -> Response:
    _queued(queued_id)
    try:
        cancelled = services().campaigns.cancel(g.token_scope, queued_id)
    except CancelRefused as exc:
        why = _TOO_LATE.get(exc.state, f"it is {exc.state}")
        raise NotCancellable(
            f"The queued call {queued_id} cannot be cancelled: {why}.", state=exc.state
        ) from None
    if cancelled is None:
        raise NotFound(f"No queued call {queued_id!r}.")
    return _json(cancelled)


@bp.get("/campaigns")
def list_campaigns() -> Response:
    return _json({"items": services().campaigns.campaigns(g.token_scope)})


@bp.get("/campaigns/<name>")
def get_campaign(name: str) -> Response:
    found = services().campaigns.campaigns(g.token_scope, _campaign_name(name))
    if not found:
        raise NotFound(f"No campaign {name!r}.")
    return _json(found[0])


@bp.patch("/campaigns/<name>")
def update_campaign(name: str) -> Response:
    """Change a campaign's settings: ``{"call_window": ...}`` (null: back to the default)."""
    body = validate_object(
        json_body(), "campaign.input.json", outcome="The campaign was not changed"
    )
    if "call_window" not in body:
        raise ValidationFailed(
            "Nothing to change.",
            errors=[FieldError("call_window", "is required: the campaign's calling hours")],
        )
    updated = services().campaigns.set_window(
        g.token_scope, _campaign_name(name), body["call_window"]
    )
    return _json(updated)


@bp.post("/campaigns/<name>/pause")
def pause_campaign(name: str) -> Response:
    return _json(services().campaigns.pause(g.token_scope, _campaign_name(name), True))


@bp.post("/campaigns/<name>/resume")
def resume_campaign(name: str) -> Response:
    return _json(services().campaigns.pause(g.token_scope, _campaign_name(name), False))
