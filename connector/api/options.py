"""Dynamic dropdowns for platform forms: ``[{value, label}]``, de-duplicated and sorted.

The agent-version list depends on the form's Agent field: platforms that support dependent
dropdowns pass the chosen agent as ``?agent_id=``.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from flask import Blueprint, request

from connector.api.auth import protect
from connector.problems import FieldError, NotFound, ValidationFailed
from connector.retell.errors import RetellUnprocessable
from connector.services import services

__all__ = ["agent_options", "agent_version_options", "bp", "phone_number_options"]

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


def _tag_versions(tags: Any) -> str:
    """``production v3, staging v4`` from Retell's ``tags: {name: {version}}``."""
    if not isinstance(tags, dict):
        return ""
    parts = []
    for name, tag in sorted(tags.items()):
        version = tag.get("version") if isinstance(tag, dict) else None
        has_version = isinstance(version, int) and not isinstance(version, bool)
        parts.append(f"{name} v{version}" if has_version else str(name))
    return ", ".join(parts)


def agent_options(agents: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``Support agent · production v3`` for each voice agent that can take calls.

    Built only from fields Retell's list-agents items declare: ``agent_name``, ``tags``
    (tag name → the version it points at), ``channel`` and ``is_suspended``. Chat agents
    cannot place phone calls and suspended agents cannot take any, so both are left out
    rather than offered as choices that fail when the step runs. Two agents with the same
    name are told apart by their ids.
    """
    chosen: dict[str, tuple[str, str]] = {}
    for item in agents:
        agent_id = item.get("agent_id")
        if not isinstance(agent_id, str) or not agent_id or agent_id in chosen:
            continue
        if item.get("channel", "voice") != "voice" or item.get("is_suspended") is True:
            continue
        name = str(item.get("agent_name") or agent_id)
        chosen[agent_id] = (name, _tag_versions(item.get("tags")))
    names = [name for name, _tags in chosen.values()]
    options = []
    for agent_id, (name, tags) in chosen.items():
        label = f"{name} ({agent_id})" if names.count(name) > 1 else name
        options.append({"value": agent_id, "label": " · ".join(p for p in (label, tags) if p)})
    return sorted(options, key=lambda o: o["label"].lower())


def agent_version_options(versions: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``v3 · Spanish handoff`` for each version of an agent, newest first.

    Drafts (versions not published) are marked, so a user sees which version is live.
    """
    by_number: dict[int, str] = {}
    for item in versions:
        version = item.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version in by_number:
            continue
        title = item.get("version_title")
        draft = "draft" if item.get("is_published") is False else ""
        parts = (f"v{version}", title if isinstance(title, str) else "", draft)
        by_number[version] = " · ".join(p for p in parts if p)
    return [{"value": str(v), "label": by_number[v]} for v in sorted(by_number, reverse=True)]


@bp.get("/phone-numbers")
def phone_numbers() -> Any:
    return phone_number_options(services().retell.list_phone_numbers())


@bp.get("/agents")
def agents() -> Any:
    return agent_options(services().retell.list_agents())


@bp.get("/agent-versions")
def agent_versions() -> Any:
    """The versions of the agent chosen in the form's Agent field (``?agent_id=``)."""
    agent_id = (request.args.get("agent_id") or "").strip()
    if (
        not agent_id
        or len(agent_id) > 128
        or not agent_id.replace("_", "").replace("-", "").isalnum()
    ):
        raise ValidationFailed(
            "Choose an agent first: this list shows the versions of the chosen agent.",
            errors=[FieldError("agent_id", "must be the id of one of your Retell voice agents")],
        )
    try:
        versions = services().retell.list_agent_versions(agent_id)
    except RetellUnprocessable as exc:
        raise NotFound(f"No agent with id {agent_id!r}: Retell said: {exc.message}") from exc
    return agent_version_options(versions)
