"""The simulated account's fixed assets: five agents, three phone numbers, one org.

Ids look like Retell's and never change, so docs, demos and tests can name them. Lists are
kept newest first (Retell's default ``sort_order`` is descending), so the Sales line and
the Support agent come first. Besides three voice agents the account has a chat agent and a
suspended voice agent, as real accounts do, so clients must read ``channel`` and
``is_suspended``. Every agent has versions ``0..version``, all published; calls use the
newest unless ``override_agent_version`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGENTS",
    "ORG",
    "PHONE_NUMBERS",
    "Agent",
    "AgentVersion",
    "PhoneNumber",
    "agent_by_id",
    "number_by_e164",
]

_DAY_MS = 86_400_000
_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, so timestamps are stable across runs


@dataclass(frozen=True)
class AgentVersion:
    """One stored version, as ``GET /list-agent-versions/{agent_id}`` lists it."""

    version: int
    title: str | None
    modified_ms: int
    published: bool = True

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "is_published": self.published,
            "last_modification_timestamp": self.modified_ms,
        }
        if self.version:
            out["base_version"] = self.version - 1
        if self.title:
            out["version_title"] = self.title
        return out


@dataclass(frozen=True)
class Agent:
    """An agent as ``POST /v2/list-agents`` lists it; ``version`` is its newest version."""

    agent_id: str
    agent_name: str
    version: int
    modified_ms: int
    titles: tuple[str, ...] = ()
    """Titles of versions 0, 1, …; a version past the end has none."""
    channel: str = "voice"
    suspended: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "channel": self.channel,
            "is_suspended": self.suspended,
            "is_transfer_agent": False,
            "tags": {"production": {"version": self.version}},
            "user_modified_timestamp": self.modified_ms,
        }

    def versions(self) -> tuple[AgentVersion, ...]:
        """Versions 0 to ``version``, oldest first, a day apart, the newest at ``modified_ms``."""
        return tuple(
            AgentVersion(
                v,
                self.titles[v] if v < len(self.titles) else None,
                self.modified_ms - (self.version - v) * _DAY_MS,
            )
            for v in range(self.version + 1)
        )


@dataclass(frozen=True)
class PhoneNumber:
    """A Retell-bought number (a ``PhoneNumberResponse``) with its agents bound."""

    phone_number: str
    nickname: str
    inbound_agent: Agent
    outbound_agent: Agent
    modified_ms: int

    def as_json(self) -> dict[str, Any]:
        national = self.phone_number[2:]
        inbound, outbound = self.inbound_agent, self.outbound_agent
        return {
            "phone_number": self.phone_number,
            "phone_number_pretty": f"+1 ({national[:3]}) {national[3:6]}-{national[6:]}",
            "phone_number_type": "retell-twilio",
            "nickname": self.nickname,
            "area_code": int(national[:3]),
            "inbound_agents": [
                {"agent_id": inbound.agent_id, "agent_version": inbound.version, "weight": 1.0}
            ],
            "outbound_agents": [
                {"agent_id": outbound.agent_id, "agent_version": outbound.version, "weight": 1.0}
            ],
            "allowed_inbound_country_list": ["US", "CA"],
            "allowed_outbound_country_list": ["US", "CA"],
            "inbound_webhook_url": None,
            "last_modification_timestamp": self.modified_ms,
        }


SUPPORT = Agent(
    "agent_5b8f3c1e9d2a4f6b8c0d1e2f3a",
    "Support agent",
    3,
    _EPOCH_MS + 40 * _DAY_MS,
    ("First draft", "Friendlier greeting", "Handles billing questions", "Spanish handoff"),
)
SALES = Agent(
    "agent_1c7e2d9b4a6f8e0c2b4d6f8a0c",
    "Sales agent",
    5,
    _EPOCH_MS + 30 * _DAY_MS,
    ("First draft", "Shorter pitch", "", "Books demos", "Objection handling", "Summer offer"),
)
REMINDERS = Agent(
    "agent_9a3d5f7b1e2c4a6d8f0b2c4e6a",
    "Appointment reminders",
    1,
    _EPOCH_MS + 20 * _DAY_MS,
    ("First draft", "Confirms or reschedules"),
)
WEBSITE_CHAT = Agent(
    "agent_4e6a8c0b2d4f6a8c0e2b4d6f8a",
    "Website chat",
    2,
    _EPOCH_MS + 15 * _DAY_MS,
    channel="chat",
)
WINTER_PROMO = Agent(
    "agent_7c9e1a3b5d7f9a1c3e5b7d9f1a",
    "Winter promo",
    4,
    _EPOCH_MS + 10 * _DAY_MS,
    ("First draft",),
    suspended=True,
)
AGENTS: tuple[Agent, ...] = (SUPPORT, SALES, REMINDERS, WEBSITE_CHAT, WINTER_PROMO)

PHONE_NUMBERS: tuple[PhoneNumber, ...] = (
    PhoneNumber("+14157774444", "Sales line", SALES, SALES, _EPOCH_MS + 45 * _DAY_MS),
    PhoneNumber("+16505550123", "Support line", SUPPORT, SUPPORT, _EPOCH_MS + 35 * _DAY_MS),
    PhoneNumber("+13125550188", "Reminders", SUPPORT, REMINDERS, _EPOCH_MS + 25 * _DAY_MS),
)

ORG: dict[str, Any] = {
    "org_id": "org_sandbox_7f3a9c2e",
    "org_name": "Retell Sandbox",
    "api_key_name": "Sandbox key",
}


def agent_by_id(agent_id: str) -> Agent | None:
    """The agent with ``agent_id``, if the account has it."""
    return next((a for a in AGENTS if a.agent_id == agent_id), None)


def number_by_e164(phone_number: str) -> PhoneNumber | None:
    """The account's number ``phone_number``, if it owns it."""
    return next((n for n in PHONE_NUMBERS if n.phone_number == phone_number), None)
