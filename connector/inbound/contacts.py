"""Saved caller context: what the agent should know when a number calls in.

For platforms that cannot answer Retell's webhook in time (Zapier), a flow keeps the
connector's copy current ("contact updated → Save Caller Context"); on a call the saved
context is merged over the matching rule's answer. Each token keeps its own copy of a
number; when several tokens saved the same caller, the most recently saved wins field by
field (they share one Retell account, so all of them speak for its calls). Pure logic.
"""

from __future__ import annotations

from typing import Any, Final

from connector.inbound.answer import coerce_fields, field_errors
from connector.manifest import schema_validator
from connector.problems import FieldError, ValidationFailed
from connector.validation import normalize_e164, schema_errors

__all__ = ["CONTACT_FIELDS", "parse_contact", "parse_contact_number"]

INPUT_SCHEMA: Final = "inbound-contact.input.json"
CONTACT_FIELDS: Final = (
    "dynamic_variables",
    "metadata",
    "override_agent_id",
    "override_agent_version",
)


def parse_contact_number(text: str) -> str:
    """The caller's number from the URL in E.164, or ``ValidationFailed`` naming it."""
    try:
        return normalize_e164(text)
    except ValueError as exc:
        raise ValidationFailed(
            f"The caller's number in the address is not usable: it {exc}.",
            errors=[FieldError("phone_number", str(exc))],
        ) from None


def parse_contact(body: object) -> dict[str, Any]:
    """The context to store from a request body, or ``ValidationFailed`` naming each field."""
    if not isinstance(body, dict):
        raise _failed([FieldError("body", "must be a JSON object")])
    fields = coerce_fields(body)
    schema: dict[str, Any] = schema_validator(INPUT_SCHEMA).schema
    found = schema_errors(fields, INPUT_SCHEMA, schema)
    errors = [FieldError(path or "body", message) for path, message in found.items()]
    if not errors:
        errors = field_errors(fields)
    if errors:
        raise _failed(errors)
    return fields


def _failed(errors: list[FieldError]) -> ValidationFailed:
    paths = ", ".join(dict.fromkeys(e.path for e in errors))
    count = "1 field is" if len(errors) == 1 else f"{len(errors)} fields are"
    return ValidationFailed(
        f"The caller context was not saved: {count} invalid ({paths}).", errors=errors
    )
