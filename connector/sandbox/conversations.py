"""The canned conversations a connected call speaks, filled from its dynamic variables.

``customer_name`` and ``company_name`` from ``retell_llm_dynamic_variables`` are used when
given, so a demo that passes a name hears it back in the transcript and the summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ANALYSIS", "TOOL_LATENCY_MS", "ToolCall", "Turn", "caller_name", "conversation"]

AGENT_PERSONA = "Ava"
DEFAULT_COMPANY = "Northwind Energy"
SLOT = "Tuesday 10:00"
# How long each tool call takes: Retell measures it (list-calls filters on it) but the call
# object does not carry it.
TOOL_LATENCY_MS = 640


@dataclass(frozen=True)
class ToolCall:
    """A function the agent calls just before it speaks a turn."""

    name: str
    arguments: dict[str, Any]
    result: str

    def invocation(self, tool_call_id: str) -> dict[str, Any]:
        return {
            "role": "tool_call_invocation",
            "tool_call_id": tool_call_id,
            "name": self.name,
            "arguments": json.dumps(self.arguments),
            "type": "custom",
        }

    def outcome(self, tool_call_id: str) -> dict[str, Any]:
        return {
            "role": "tool_call_result",
            "tool_call_id": tool_call_id,
            "content": self.result,
            "successful": True,
        }


@dataclass(frozen=True)
class Turn:
    """One utterance; ``role`` is ``agent`` or ``user`` as in Retell's transcript_object."""

    role: str
    text: str
    tool: ToolCall | None = None


def caller_name(variables: dict[str, str]) -> str:
    """The name the agent uses: ``first_name`` (inbound greetings), else ``customer_name``."""
    return (variables.get("first_name") or variables.get("customer_name") or "").strip()


def conversation(kind: str, variables: dict[str, str]) -> list[Turn]:
    """The turns of conversation ``kind`` (``booking``, ``declined``, ``voicemail`` or
    ``inbound``, a caller ringing in)."""
    name = variables.get("customer_name", "").strip()
    company = variables.get("company_name", "").strip() or DEFAULT_COMPANY
    if kind == "inbound":
        return _inbound(caller_name(variables), company)
    hello = f"Hi {name or 'there'}, this is {AGENT_PERSONA} calling from {company}."
    thanks = f"Thank you, {name}." if name else "Thank you."
    if kind == "voicemail":
        return [
            Turn("user", "Hi, you've reached my voicemail. Please leave a message after the tone."),
            Turn(
                "agent",
                f"{hello} I'm following up on your inquiry. Please call us back "
                "at your convenience. Have a great day!",
            ),
        ]
    if kind == "declined":
        return [
            Turn("agent", f"{hello} Do you have a quick minute?"),
            Turn("user", "Not really. What is this about?"),
            Turn(
                "agent",
                "You asked about our home energy plans on our website, and I'd love "
                "to set up a short demo with a specialist.",
            ),
            Turn("user", "I'm not interested, please don't call me again."),
            Turn("agent", "Understood, I'm sorry to bother you. Have a good day."),
        ]
    booking = ToolCall(
        "book_appointment",
        {"customer_name": name or "unknown", "slot": SLOT},
        json.dumps({"booked": True, "slot": SLOT, "confirmation": "NW-4821"}),
    )
    return [
        Turn("agent", f"{hello} Do you have a quick minute?"),
        Turn("user", "Sure, what's this about?"),
        Turn(
            "agent",
            "You asked about our home energy plans on our website. I'd love to set up "
            "a short demo with a specialist. Would Tuesday at 10 am work for you?",
        ),
        Turn("user", "Yes, Tuesday at ten works for me."),
        Turn(
            "agent",
            "Great, you're booked for Tuesday at 10 am. You'll get a confirmation text shortly.",
            tool=booking,
        ),
        Turn("user", "Perfect, thanks."),
        Turn("agent", f"{thanks} Have a great day!"),
    ]


def _inbound(name: str, company: str) -> list[Turn]:
    """A caller rings in; the agent greets them by name when the answer gave one."""
    return [
        Turn(
            "agent",
            f"Hi {name or 'there'}, thanks for calling {company}. This is {AGENT_PERSONA}, "
            "how can I help you today?",
        ),
        Turn("user", "Hi, I'd like to check when my installation is scheduled."),
        Turn("agent", f"Of course. Your installation is booked for {SLOT}."),
        Turn("user", "Great, that's all I needed. Thanks!"),
        Turn("agent", f"You're welcome{', ' + name if name else ''}. Have a great day!"),
    ]


ANALYSIS: dict[str, tuple[str, dict[str, Any]]] = {
    # kind -> (summary template, custom_analysis_data); {name}/{company} filled per call.
    "booking": (
        "The agent called {name} on behalf of {company} about their website inquiry. The "
        "customer agreed to a demo and was booked for Tuesday at 10 am.",
        {"appointment_booked": True, "appointment_time": SLOT, "interest_level": "high"},
    ),
    "declined": (
        "The agent called {name} on behalf of {company} to offer a demo. The customer was not "
        "interested and asked not to be called again.",
        {"appointment_booked": False, "do_not_call_requested": True, "interest_level": "none"},
    ),
    "voicemail": (
        "The call reached {name}'s voicemail. The agent left a message asking for a call back.",
        {"appointment_booked": False},
    ),
    "inbound": (
        "{name} called {company} to check their installation date; the agent confirmed "
        "Tuesday at 10 am.",
        {"caller_intent": "installation date", "resolved": True},
    ),
    "dial_no_answer": ("The call to {name} was not answered.", {}),
    "dial_busy": ("The line was busy; the call to {name} did not connect.", {}),
    "dial_failed": ("The call to {name} could not be placed.", {}),
    "concurrency_limit_reached": (
        "The call to {name} was not placed: the account was at its concurrency limit.",
        {},
    ),
}
