"""The simulated account's fixed assets: three agents, three phone numbers, one org.

Ids look like Retell's and never change, so docs, demos and tests can name them. Lists are
kept newest first (Retell's default ``sort_order`` is descending), so the Sales line and
the Support agent come first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGENTS",
    "ORG",
    "PHONE_NUMBERS",
    "Agent",
    "PhoneNumber",
    "agent_by_id",
    "number_by_e164",
]

_DAY_MS = 86_400_000
_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, so timestamps are stable across runs


@dataclass(frozen=True)
class Agent:
    """A voice agent as ``POST /v2/list-agents`` lists it."""

    agent_id: str
    agent_name: str
    version: int
    modified_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "channel": "voice",
            "is_suspended": False,
            "is_transfer_agent": False,
            "tags": {"production": {"version": self.version}},
            "user_modified_timestamp": self.modified_ms,
            "version": self.version,
        }


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
            "inbound_agent_id": inbound.agent_id,
            "inbound_agent_version": inbound.version,
            "outbound_agent_id": outbound.agent_id,
            "outbound_agent_version": outbound.version,
            "inbound_agents": [{"agent_id": inbound.agent_id, "weight": 1.0}],
            "outbound_agents": [{"agent_id": outbound.agent_id, "weight": 1.0}],
            "allowed_inbound_country_list": ["US", "CA"],
            "allowed_outbound_country_list": ["US", "CA"],
            "inbound_webhook_url": None,
            "last_modification_timestamp": self.modified_ms,
        }


SUPPORT = Agent("agent_5b8f3c1e9d2a4f6b8c0d1e2f3a", "Support agent", 3, _EPOCH_MS + 40 * _DAY_MS)
SALES = Agent("agent_1c7e2d9b4a6f8e0c2b4d6f8a0c", "Sales agent", 5, _EPOCH_MS + 30 * _DAY_MS)
REMINDERS = Agent(
    "agent_9a3d5f7b1e2c4a6d8f0b2c4e6a", "Appointment reminders", 1, _EPOCH_MS + 20 * _DAY_MS
)
AGENTS: tuple[Agent, ...] = (SUPPORT, SALES, REMINDERS)

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
