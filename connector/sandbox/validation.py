"""Checks on a create-phone-call body, in the order Retell would apply them.

Shape errors are 400 with Retell's generic message; references to things the account
doesn't have (a from_number it doesn't own, an unknown agent) are 422.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from connector.sandbox.catalog import Agent, agent_by_id, number_by_e164
from connector.sandbox.errors import ApiError
from connector.sandbox.scripts import DNC_SUFFIX

__all__ = ["METADATA_LIMIT_BYTES", "CreateRequest", "parse_create"]

METADATA_LIMIT_BYTES = 50_000
_E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass(frozen=True)
class CreateRequest:
    """A valid create-phone-call request, resolved against the account."""

    from_number: str
    to_number: str
    agent: Agent
    agent_version: int
    metadata: dict[str, Any] | None
    dynamic_variables: dict[str, str] | None
    custom_sip_headers: dict[str, str] | None
    idempotency_key: str | None
    webhook_url: str | None
    webhook_events: tuple[str, ...] | None


def _optional(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """An optional field of type ``kind``, or 400."""
    value = body.get(name)
    # bool is an int subclass: accept it only where a bool is asked for, and only there.
    wrong_bool = isinstance(value, bool) != (kind is bool)
    if value is not None and (not isinstance(value, kind) or wrong_bool):
        raise ApiError.bad_request()
    return value


def _string_map(body: dict[str, Any], name: str) -> dict[str, str] | None:
    """An optional object of string values, or 400."""
    value = _optional(body, name, dict)
    if value is None:
        return None
    if not all(isinstance(v, str) for v in value.values()):
        raise ApiError.bad_request()
    return {str(k): str(v) for k, v in value.items()}


def _version(raw: int | str | None, agent: Agent) -> int:
    """Numbers pick that version; tags and "latest" resolve to the agent's current one."""
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if not isinstance(raw, int):
        return agent.version
    if not 0 <= raw <= agent.version:
        raise ApiError(422, f"override_agent_version {raw} does not exist for this agent.")
    return raw


def _webhook_override(override: dict[str, Any] | None) -> tuple[str | None, tuple[str, ...] | None]:
    """An agent's ``webhook_url``/``webhook_events`` replace the account's, as in Retell."""
    agent = (override or {}).get("agent")
    if not isinstance(agent, dict):
        return None, None
    url, events = agent.get("webhook_url"), agent.get("webhook_events")
    if not (isinstance(events, list) and all(isinstance(e, str) for e in events)):
        events = None
    return (url if isinstance(url, str) else None), (tuple(events) if events is not None else None)


def parse_create(body: Any) -> CreateRequest:
    """Validate ``body`` or raise ``ApiError`` (400 shape, 422 unknown reference)."""
    if not isinstance(body, dict):
        raise ApiError.bad_request()
    from_number, to_number = body.get("from_number"), body.get("to_number")
    if not (isinstance(from_number, str) and isinstance(to_number, str)):
        raise ApiError.bad_request()
    if not (from_number and to_number):
        raise ApiError.bad_request()
    agent_id = _optional(body, "override_agent_id", str)
    raw_version = _optional(body, "override_agent_version", (int, str))
    metadata = _optional(body, "metadata", dict)
    override = _optional(body, "agent_override", dict)
    ignore_e164 = _optional(body, "ignore_e164_validation", bool)
    honor_dnc = _optional(body, "honor_internal_dnc", bool)
    idempotency_key = _optional(body, "idempotency_key", str)
    variables = _string_map(body, "retell_llm_dynamic_variables")
    sip_headers = _string_map(body, "custom_sip_headers")
    if metadata is not None and len(json.dumps(metadata).encode()) > METADATA_LIMIT_BYTES:
        raise ApiError.bad_request("metadata must be at most 50kB.")
    if not _E164.fullmatch(to_number) or not (ignore_e164 or _E164.fullmatch(from_number)):
        raise ApiError.bad_request("Phone numbers must be in E.164 format, e.g. +14157774444.")
    number = number_by_e164(from_number)
    if number is None:
        raise ApiError(
            422,
            "from_number is not a phone number on this account; see GET /v2/list-phone-numbers.",
        )
    agent = number.outbound_agent if agent_id is None else agent_by_id(agent_id)
    if agent is None:
        raise ApiError(422, "override_agent_id does not match an agent on this account.")
    if agent.channel != "voice":
        raise ApiError(422, "override_agent_id is a chat agent; phone calls need a voice agent.")
    if honor_dnc and to_number.endswith(DNC_SUFFIX):
        raise ApiError.bad_request("to_number is marked do_not_call on the internal DNC list.")
    webhook_url, webhook_events = _webhook_override(override)
    return CreateRequest(
        from_number,
        to_number,
        agent,
        _version(raw_version, agent),
        metadata,
        variables,
        sip_headers,
        idempotency_key or None,
        webhook_url,
        webhook_events,
    )
