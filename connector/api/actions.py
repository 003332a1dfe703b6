"""The platform actions: Create Phone Call and Get Call (a platform "search")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from connector.api.auth import protect
from connector.api.body import json_body
from connector.metrics import RETELL_CALLS
from connector.problems import CallOutcomeUnknown, FieldError, Problem, ValidationFailed
from connector.services import services
from connector.validation import validate_create_phone_call, validate_idempotency_key

__all__ = ["bp"]

bp = protect(Blueprint("actions", __name__, url_prefix="/v1/actions"))


def _idempotency_key(from_body: str | None) -> str | None:
    """The key from the header or the body field (they must agree when both are sent)."""
    raw = request.headers.get("Idempotency-Key")
    if raw is not None:
        header = validate_idempotency_key(raw.strip(), path="Idempotency-Key")
        if from_body is not None and from_body != header:
            raise ValidationFailed(
                "Two different idempotency keys were sent.",
                errors=[FieldError("idempotency_key", "differs from the Idempotency-Key header")],
            )
        return header
    return from_body


@bp.post("/create-phone-call")
def create_phone_call() -> Response:
    body = json_body()
    region = services().settings.connector_default_region
    call_request, key_in_body = validate_create_phone_call(body, default_region=region)
    key = _idempotency_key(key_in_body)
    scope = f"{g.token_scope}:create-phone-call"
    try:
        result = services().calls.create(call_request, scope=scope, key=key)
    except CallOutcomeUnknown:
        RETELL_CALLS.labels("unknown").inc()
        raise
    except Problem:
        RETELL_CALLS.labels("rejected").inc()
        raise
    RETELL_CALLS.labels("replayed" if result.replayed else "created").inc()
    response = Response(result.body, result.status, mimetype="application/json")
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/get-call")
def get_call() -> dict[str, Any]:
    call_id = (request.args.get("call_id") or "").strip()
    if not call_id or len(call_id) > 128 or not call_id.replace("_", "").replace("-", "").isalnum():
        raise ValidationFailed(
            "A call_id query parameter is required.",
            errors=[
                FieldError(
                    "call_id", "must be a Retell call id such as Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"
                )
            ],
        )
    return services().calls.get(call_id)
