"""Retell's inbound-call webhook body, read and checked (``schemas/inbound-request.json``).

``{"event": "call_inbound", "call_inbound": {"from_number", "to_number", "agent_id"?,
"agent_version"?, "call_id"?}}``. Numbers are kept as Retell sent them: a caller may be
withheld or not in E.164, and that must not stop the call from being answered. The
``key`` identifies one inbound request across Retell's retries: its call id when Retell
sends one, else the canonical JSON of the whole ``call_inbound`` object.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from connector.manifest import schema_validator
from connector.problems import FieldError, MalformedBody, nul_errors
from connector.validation import schema_errors

__all__ = ["INBOUND_EVENT", "InboundCall", "parse_inbound"]

INBOUND_EVENT: Final = "call_inbound"
_SCHEMA: Final = "inbound-request.json"


@dataclass(frozen=True)
class InboundCall:
    """One inbound call as Retell announced it."""

    from_number: str
    to_number: str
    agent_id: str | None
    agent_version: int | str | None
    call_id: str | None
    raw: dict[str, Any]
    """The ``call_inbound`` object as received, passed on unchanged to subscribers."""

    @property
    def key(self) -> str:
        """The same for every retry of this request (SHA-256 hex)."""
        basis = self.call_id or json.dumps(
            self.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(f"{INBOUND_EVENT}\0{basis}".encode()).hexdigest()


def parse_inbound(body: object) -> InboundCall:
    """The inbound call in ``body``, or ``MalformedBody`` (400) naming each bad field."""
    if not isinstance(body, dict):
        raise MalformedBody(
            'Expected Retell\'s inbound call webhook: {"event": "call_inbound", ...}.',
            errors=[FieldError("body", "must be a JSON object")],
        )
    schema: dict[str, Any] = schema_validator(_SCHEMA).schema
    errors = schema_errors(body, _SCHEMA, schema)
    if errors:
        raise MalformedBody(
            "The inbound call webhook is not as Retell sends it.",
            errors=[FieldError(path or "body", message) for path, message in errors.items()],
        )
    call: dict[str, Any] = body["call_inbound"]
    fields = ("from_number", "to_number", "agent_id", "agent_version", "call_id")
    if nul := nul_errors({f"call_inbound.{name}": call.get(name) for name in fields}):
        raise MalformedBody("The inbound call's fields hold a NUL character.", errors=nul)
    return InboundCall(
        from_number=call["from_number"],
        to_number=call["to_number"],
        agent_id=call.get("agent_id") or None,
        agent_version=call.get("agent_version"),
        call_id=call.get("call_id") or None,
        raw=call,
    )
