"""Problem bodies carry a one-line ``message`` (RFC 9457 extension) for clients that read only
that member, and call-outcome-unknown keeps its cause apart from advice worded for API clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import manifest
from connector.app import create_app
from connector.problems import (
    CallOutcomeUnknown,
    FieldError,
    NotFound,
    ValidationFailed,
    problem_message,
)
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("detail", "errors", "message"),
    [
        ("No call with this ID.", [], "No call with this ID."),
        (
            "The call was not placed: 1 field is invalid (to_number).",
            [FieldError("to_number", "must be a phone number in E.164 format")],
            "The call was not placed: 1 field is invalid (to_number). "
            "to_number must be a phone number in E.164 format.",
        ),
        (
            "2 fields are invalid.",
            [FieldError("from_number", "is required"), FieldError("metadata", "is too large")],
            "2 fields are invalid. from_number is required; metadata is too large.",
        ),
    ],
    ids=["no-fields", "one-field", "two-fields"],
)
def test_message_is_detail_then_each_field(
    detail: str, errors: list[FieldError], message: str
) -> None:
    """message reads as one line: the detail, then each field error after its name."""
    assert problem_message(detail, errors) == message


def test_every_problem_body_has_a_message() -> None:
    """A rendered problem carries message beside detail, and validates against problem.json."""
    body = ValidationFailed("Bad.", errors=[FieldError("to_number", "is required")]).to_dict()
    assert body["message"] == "Bad. to_number is required."
    assert manifest.schema_validator("problem").is_valid(body)
    assert NotFound("No call with this ID.").to_dict()["message"] == "No call with this ID."


@pytest.mark.parametrize("safe", [True, False])
def test_outcome_unknown_keeps_cause_apart_from_advice(safe: bool) -> None:
    """detail advises API clients; message and cause carry no Idempotency-Key jargon."""
    body = CallOutcomeUnknown(
        "Retell did not answer (timed out); the call may or may not have been placed.",
        advice="Retrying with the same Idempotency-Key is safe.",
        retry_safe=safe,
    ).to_dict()
    assert body["detail"].endswith("Retrying with the same Idempotency-Key is safe.")
    assert body["cause"].startswith("Retell did not answer")
    assert body["retry_safe"] is safe
    assert "Idempotency-Key" not in body["message"]
    assert body["message"].startswith(body["cause"])
    assert manifest.schema_validator("problem").is_valid(body)


def test_flask_own_errors_carry_a_message(tmp_path: Path) -> None:
    """Flask's own 404 becomes a problem with message too."""
    app = create_app(make_settings(tmp_path), run_delivery=False, configure_logs=False)
    response = app.test_client().get("/no/such/route")
    assert response.status_code == 404
    assert response.json is not None
    assert response.json["message"] == response.json["detail"]
