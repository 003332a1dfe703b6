"""Built-in sample call events, for platform field mapping when no real events exist yet.

Platforms build their field pickers from samples, so ``SAMPLE_CALL`` is a complete
``call_analyzed`` phone call: every field a user may want to map is there, with values
that read like a real call. Each event's sample is derived from it the way Retell shapes
that event (``call_ended`` has no ``call_analysis``, ``call_started`` only the basics),
with fixed receive times, so ids and output are the same on every run. Phone numbers are
fictional (+1 415-555-01xx).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any, Final

from connector.events import CALL_EVENTS, DEFAULT_EVENTS, build_event

__all__ = ["SAMPLE_CALL", "sample_call", "sample_events"]

_CALL_ID = "call_4f1c2a9e7b3d4c5e8f9a0b1c2d"
_START_MS = 1795541405000  # 2026-11-24T17:30:05Z, 9:30 in the morning in California
_DURATION_MS = 27840
_END_MS = _START_MS + _DURATION_MS
_S3 = f"https://retellai.s3.us-west-2.amazonaws.com/{_CALL_ID}"
_APPOINTMENT = "2026-12-01T10:00:00-08:00"

# (role, text, start, end): seconds of call audio, as Retell's word timings are.
_TURNS: tuple[tuple[str, str, float, float], ...] = (
    (
        "agent",
        "Hi, is this Jane? This is Ava from Bayside Dental, calling about your cleaning.",
        0.6,
        4.9,
    ),
    ("user", "Yes, this is Jane. Hi!", 5.6, 7.4),
    (
        "agent",
        "Great! We have an opening next Tuesday, December 1st at 10 AM. Would that work for you?",
        8.1,
        12.6,
    ),
    ("user", "Yes, that works.", 13.4, 15.2),
    (
        "agent",
        "You're all set for December 1st at 10 AM. We'll text you a reminder the day before.",
        17.0,
        22.4,
    ),
    ("user", "Perfect, thank you.", 23.1, 24.0),
    ("agent", "You're welcome, Jane. Have a great day!", 24.6, 26.2),
)
_TOOL_AFTER_TURN = 4  # the booking tool runs after the user says yes
_SPEAKER = {"agent": "Agent", "user": "User"}


_TOOL_CALL: Final[list[dict[str, Any]]] = [
    {
        "role": "tool_call_invocation",
        "tool_call_id": "tool_call_7d2e9f",
        "name": "book_appointment",
        "arguments": json.dumps({"patient_name": "Jane Doe", "start_time": _APPOINTMENT}),
    },
    {
        "role": "tool_call_result",
        "tool_call_id": "tool_call_7d2e9f",
        "content": json.dumps({"confirmed": True, "appointment_id": "apt_20261201_1000"}),
        "successful": True,
    },
]


def _utterance(role: str, text: str, start: float, end: float) -> dict[str, Any]:
    """One turn with evenly spread word timings (enough realism for a sample)."""
    words = text.split()
    step = (end - start) / len(words)
    timed = [
        {"word": word, "start": round(start + i * step, 2), "end": round(start + (i + 1) * step, 2)}
        for i, word in enumerate(words)
    ]
    return {"role": role, "content": text, "words": timed}


def _transcript(turns: int) -> dict[str, Any]:
    """The transcript fields of a call after its first ``turns`` turns."""
    utterances = [_utterance(*turn) for turn in _TURNS[:turns]]
    with_tools: list[dict[str, Any]] = []
    for number, utterance in enumerate(utterances, start=1):
        with_tools.append(copy.deepcopy(utterance))
        if number == _TOOL_AFTER_TURN:
            with_tools.extend(_TOOL_CALL)
    return {
        "transcript": "\n".join(f"{_SPEAKER[u['role']]}: {u['content']}" for u in utterances),
        "transcript_object": utterances,
        "transcript_with_tool_calls": with_tools,
    }


def _latency(*values: float) -> dict[str, Any]:
    """Retell's per-stage statistics (ms) from p50, p90, p95, p99, min and max."""
    return {**dict(zip(("p50", "p90", "p95", "p99", "min", "max"), values, strict=True)), "num": 4}


_BASICS: Final[dict[str, Any]] = {
    "call_id": _CALL_ID,
    "call_type": "phone_call",
    "agent_id": "agent_9a8b7c6d5e4f3a2b1c0d9e8f7a",
    "agent_version": 3,
    "agent_name": "Bayside Dental scheduler",
    "call_status": "ongoing",
    "direction": "outbound",
    "from_number": "+14155550100",
    "to_number": "+14155550123",
    "telephony_identifier": {"twilio_call_sid": "CA0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e"},
    "metadata": {"lead_id": "L-1042", "source": "crm"},
    "retell_llm_dynamic_variables": {"customer_name": "Jane Doe", "clinic_name": "Bayside Dental"},
    "data_storage_setting": "everything",
    "opt_in_signed_url": False,
    "start_timestamp": _START_MS,
}

SAMPLE_CALL: Final[dict[str, Any]] = {
    **_BASICS,
    "call_status": "ended",
    "end_timestamp": _END_MS,
    "duration_ms": _DURATION_MS,
    "disconnection_reason": "user_hangup",
    **_transcript(len(_TURNS)),
    "collected_dynamic_variables": {"previous_node": "Confirm booking", "current_node": "Goodbye"},
    "recording_url": f"{_S3}/recording.wav",
    "recording_multi_channel_url": f"{_S3}/recording_multichannel.wav",
    "public_log_url": f"{_S3}/public.log",
    "latency": {
        "e2e": _latency(842, 1103, 1187, 1240, 701, 1251),
        "asr": _latency(112, 160, 171, 180, 95, 182),
        "llm": _latency(401, 588, 612, 640, 322, 645),
        "tts": _latency(187, 240, 251, 262, 160, 264),
    },
    "call_cost": {
        "product_costs": [
            {"product": "elevenlabs_tts", "unit_price": 0.1166667, "cost": 3.2666676},
            {"product": "gpt_4o_mini", "unit_price": 0.0103333, "cost": 0.2893324},
            {"product": "retell_platform", "unit_price": 0.0083333, "cost": 0.2333324},
        ],
        "total_duration_seconds": 28,
        "total_duration_unit_price": 0.1353333,
        "combined_cost": 3.7893324,
    },
    "llm_token_usage": {"values": [1852, 1907, 2104, 2175], "average": 2009.5, "num_requests": 4},
    "call_analysis": {
        "call_summary": (
            "Ava from Bayside Dental called Jane Doe about her cleaning. Jane booked an "
            "appointment for Tuesday, December 1 at 10 AM and will get a text reminder."
        ),
        "in_voicemail": False,
        "user_sentiment": "Positive",
        "call_successful": True,
        "custom_analysis_data": {"appointment_booked": True, "appointment_time": _APPOINTMENT},
    },
}

_AFTER_END: Final[frozenset[str]] = frozenset({"call_ended", "call_analyzed", "transfer_ended"})
_TRANSFER_TO = "+14155550199"
# When the connector received each event, in ms after the call started (fixed, so event
# ids and created_at are the same on every run).
_RECEIVED_AFTER_MS: Final[dict[str, int]] = {
    "call_started": 150,
    "transfer_started": 8_300,
    "transcript_updated": 12_900,
    "transfer_bridged": 14_100,
    "transfer_cancelled": 20_400,
    "call_ended": _DURATION_MS + 400,
    "call_analyzed": _DURATION_MS + 5_200,
    "transfer_ended": _DURATION_MS + 61_300,
}


def sample_call(event: str) -> dict[str, Any]:
    """A fresh copy of the call as Retell sends it with ``event``."""
    if event not in CALL_EVENTS:
        raise ValueError(f"not a call event: {event!r} (known: {', '.join(CALL_EVENTS)})")
    if event in _AFTER_END:
        call = copy.deepcopy(SAMPLE_CALL)
        if event != "call_analyzed":
            del call["call_analysis"]  # Retell sends it only with call_analyzed
        if event == "transfer_ended":
            call.update(
                disconnection_reason="call_transfer",
                transfer_destination=_TRANSFER_TO,
                transfer_end_timestamp=_START_MS + _RECEIVED_AFTER_MS[event] - 300,
            )
        return call
    call = copy.deepcopy(_BASICS)
    if event == "transcript_updated":
        call.update(_transcript(3))
    elif event.startswith("transfer_"):
        call.update(_transcript(2), transfer_destination=_TRANSFER_TO)
    return call


def sample_events(events: Sequence[str] = DEFAULT_EVENTS) -> list[dict[str, Any]]:
    """One built-in event per requested name, newest first, as the polling trigger lists them.

    Newest first also puts ``call_analyzed``, the richest event, first in the default
    sample, and platforms map fields from the first item.
    """
    names = list(dict.fromkeys(events))  # each name once, whatever the caller repeated
    built = [
        build_event(name, sample_call(name), received_at_ms=_START_MS + _RECEIVED_AFTER_MS[name])
        for name in names
    ]
    return sorted(built, key=lambda item: str(item["created_at"]), reverse=True)
