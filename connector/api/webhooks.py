"""``POST /v1/webhooks/retell``: verify, dedupe, commit, then acknowledge (DESIGN §5).

The signature is checked on the raw bytes before anything is parsed; the body is read
only up to the limit (a larger one is refused without reading further); the 204 is sent
only after the event and its deliveries are committed, so anything acknowledged is kept.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, request

from connector.api.inbound import answer_verified, answers_inbound
from connector.api.signed import retell_json, signed_retell_body
from connector.limits import MAX_WEBHOOK_BYTES
from connector.log_sampling import SampledLog
from connector.problems import FieldError, MalformedBody, nul_errors
from connector.services import Services, services

__all__ = ["MAX_WEBHOOK_BYTES", "STORE_FAILURE", "bp", "store_call_event"]

log = logging.getLogger(__name__)
event_lines = SampledLog(log, "call events")  # one line each while few; a summary when many

MAX_ID = 128  # the store's column widths for call and agent ids
MAX_EVENT = 64

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")


def _parse(raw: bytes) -> tuple[str, dict[str, Any]]:
    body = retell_json(raw)
    event = body.get("event") if isinstance(body, dict) else None
    call = body.get("call") if isinstance(body, dict) else None
    if not isinstance(event, str) or not event or not isinstance(call, dict):
        raise MalformedBody(
            'Expected a Retell call event: {"event": ..., "call": {...}}.',
            errors=[FieldError("event" if not isinstance(event, str) else "call", "is missing")],
        )
    if not isinstance(call.get("call_id"), str) or not 0 < len(call["call_id"]) <= MAX_ID:
        raise MalformedBody(
            "The call object has no usable call_id.",
            errors=[FieldError("call.call_id", f"must be text of 1 to {MAX_ID} characters")],
        )
    agent_id = call.get("agent_id")
    if isinstance(agent_id, str) and len(agent_id) > MAX_ID:
        raise MalformedBody(
            "The call's agent_id is too long.",
            errors=[FieldError("call.agent_id", f"must be at most {MAX_ID} characters")],
        )
    if len(event) > MAX_EVENT:
        raise MalformedBody(
            "Unknown event name.",
            errors=[FieldError("event", f"must be at most {MAX_EVENT} characters")],
        )
    ids = {"event": event, "call.call_id": call["call_id"], "call.agent_id": agent_id}
    if errors := nul_errors(ids):
        raise MalformedBody("The call event's identifiers hold a NUL character.", errors=errors)
    return event, call


STORE_FAILURE = "connector.store_failure"
"""The WSGI environ key under which ``webhook_fast_path`` hands Flask the error it met."""


@bp.post("/retell")
def retell_webhook() -> Response:
    raw = signed_retell_body()
    if answers_inbound(raw):  # an inbound call sent to the call-event URL (issue 13)
        return answer_verified(raw)
    if (failure := request.environ.get(STORE_FAILURE)) is not None:
        raise failure  # met storing it beneath Flask: answered here, not tried twice
    store_call_event(services(), raw)
    return Response(status=204)


def store_call_event(svc: Services, raw: bytes) -> None:
    """Keep a verified call event (or see it is a duplicate) and act on it; returns once it
    is committed."""
    event, call = _parse(raw)
    accepted = svc.inbox.accept(event, call)
    if accepted.deliveries:
        svc.wake_delivery()
    svc.dialer.on_call_event(event, call)  # a queued call's end frees its slot
    outcome, counted = ("duplicate", "duplicates") if accepted.duplicate else ("stored", "stored")
    event_lines.info(
        {counted: 1, "deliveries": accepted.deliveries},  # the summary's counts, past 10 a second
        "retell %s for call %s: %s, %d deliveries",
        event,
        call["call_id"],
        outcome,
        accepted.deliveries,
    )
