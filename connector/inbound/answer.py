"""The inbound answer: its fields, the merge of the layers, and the checks before sending.

Layers are merged later-wins, field by field; inside ``dynamic_variables`` and ``metadata``
name by name, so a rule's ``department`` and a contact's ``first_name`` both reach the
agent. The layer that names an agent names its version too: a later ``override_agent_id``
drops an earlier ``override_agent_version`` (another agent's version would be wrong).

Dynamic variable values are coerced to text exactly as for outbound calls
(``connector.validation.as_text``); an answer is checked against ``schemas/inbound-answer.json``
plus Retell's 50 kB metadata limit before it is sent, so Retell never gets one it would
reject. Pure logic: no Flask, no store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from connector import jsontext
from connector.manifest import schema_validator
from connector.problems import FieldError
from connector.validation import METADATA_LIMIT_BYTES, as_text, schema_errors

__all__ = [
    "ANSWER_FIELDS",
    "ANSWER_SCHEMA",
    "answer_errors",
    "coerce_fields",
    "field_errors",
    "merge",
    "responder_fields",
    "wire_answer",
]

ANSWER_SCHEMA: Final = "inbound-answer.json"
ANSWER_FIELDS: Final = (
    "override_agent_id",
    "override_agent_version",
    "dynamic_variables",
    "metadata",
    "agent_override",
)
_BY_NAME: Final = ("dynamic_variables", "metadata")
_WRAPPER: Final = "call_inbound"


def coerce_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Answer fields with platform quirks smoothed over (the schema judges the rest).

    ``null`` means "not given"; digits-only version text becomes a number (Retell would read
    text as a tag name); dynamic variable numbers and true/false become text.
    """
    fields: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name == "override_agent_version" and isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        elif name == "dynamic_variables" and isinstance(value, dict):
            value = {key: as_text(item) for key, item in value.items()}
        fields[name] = value
    return fields


def field_errors(fields: Mapping[str, Any], *, prefix: str = "") -> list[FieldError]:
    """What is wrong with a set of answer fields, each error naming its field."""
    found = schema_errors({_WRAPPER: dict(fields)}, ANSWER_SCHEMA, _schema())
    errors = [
        FieldError(prefix + path.removeprefix(_WRAPPER + ".").removeprefix(_WRAPPER), message)
        for path, message in found.items()
    ]
    metadata = fields.get("metadata")
    if isinstance(metadata, dict) and not any(e.path == prefix + "metadata" for e in errors):
        size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())
        if size > METADATA_LIMIT_BYTES:
            message = f"is {size:,} bytes as JSON, over Retell's limit of {METADATA_LIMIT_BYTES:,}"
            errors.append(FieldError(prefix + "metadata", message))
    return [FieldError(e.path or prefix.rstrip(".") or "body", e.message) for e in errors]


def merge(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The answer fields of ``layers``, later wins (see the module docstring)."""
    answer: dict[str, Any] = {}
    for layer in layers:
        for name in ANSWER_FIELDS:
            if name not in layer:
                continue
            value = layer[name]
            if name in _BY_NAME:
                answer[name] = {**answer.get(name, {}), **value}
            else:
                if name == "override_agent_id":
                    answer.pop("override_agent_version", None)
                answer[name] = value
    return answer


def answer_errors(fields: Mapping[str, Any]) -> list[FieldError]:
    """Why Retell would reject ``{"call_inbound": fields}``; empty when it is fine to send."""
    return field_errors(fields)


def wire_answer(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The body Retell reads: ``{"call_inbound": {...}}``."""
    return {_WRAPPER: dict(fields)}


def responder_fields(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A responder's reply as answer fields, or ``(None, why it is ignored)``.

    Retell's own format ``{"call_inbound": {...}}`` and the bare fields are both accepted;
    an empty body means "no changes".
    """
    if not body.strip():
        return {}, None
    try:
        parsed = jsontext.loads(body, constants=False)
    except ValueError:
        return None, "the answer is not JSON"
    if not isinstance(parsed, dict):
        return None, "the answer is not a JSON object"
    inner: object = parsed
    if _WRAPPER in parsed:
        extra = sorted(set(parsed) - {_WRAPPER})
        if extra:
            return None, f"{extra[0]} is not a known field (beside call_inbound)"
        inner = parsed[_WRAPPER]
        if not isinstance(inner, dict):
            return None, "call_inbound is not a JSON object"
    assert isinstance(inner, dict)
    fields = coerce_fields(inner)
    errors = field_errors(fields)
    if errors:
        return None, "; ".join(f"{e.path} {e.message}" for e in errors)
    return fields, None


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = schema_validator(ANSWER_SCHEMA).schema
    return schema
