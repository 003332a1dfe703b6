"""Dynamic dropdowns for platform forms: ``[{value, label}]``, de-duplicated and sorted."""

from __future__ import annotations

from typing import Any

import phonenumbers
from flask import Blueprint

from connector.api.auth import protect
from connector.services import services

__all__ = ["agent_options", "bp", "phone_number_options"]

bp = protect(Blueprint("options", __name__, url_prefix="/v1/options"))


def _pretty(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_number_options(numbers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``+1 415-777-4444 · Sales line`` for each number Retell lists."""
    seen: dict[str, str] = {}
    for item in numbers:
        number = item.get("phone_number")
        if not isinstance(number, str) or number in seen:
            continue
        nickname = item.get("nickname")
        seen[number] = " · ".join(p for p in (_pretty(number), nickname) if p)
    return [{"value": v, "label": label} for v, label in sorted(seen.items(), key=lambda i: i[1])]


def agent_options(agents: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``Support agent · v3`` for each agent, keeping the newest version of each id."""
    newest: dict[str, dict[str, Any]] = {}
    for item in agents:
        agent_id = item.get("agent_id")
        if not isinstance(agent_id, str):
            continue
        known = newest.get(agent_id)
        if known is None or (item.get("version") or 0) > (known.get("version") or 0):
            newest[agent_id] = item
    options = []
    for agent_id, item in newest.items():
        parts = [str(item.get("agent_name") or agent_id)]
        if isinstance(item.get("version"), int):
            parts.append(f"v{item['version']}")
        if item.get("is_suspended"):
            parts.append("suspended")
        options.append({"value": agent_id, "label": " · ".join(parts)})
    return sorted(options, key=lambda o: o["label"].lower())


@bp.get("/phone-numbers")
def phone_numbers() -> Any:
    return phone_number_options(services().retell.list_phone_numbers())


@bp.get("/agents")
def agents() -> Any:
    return agent_options(services().retell.list_agents())
