"""The ``flat`` view of a Retell call: the fields a no-code user maps, as plain values.

Timestamps become ISO 8601 (UTC), durations seconds, the transcript readable text, and
each ``custom_analysis_data`` entry its own ``custom_analysis_data.<key>`` field (nested
values as compact JSON text) so that every field is one scalar in a platform's mapper. A call
the campaign dialer placed names its queued call and campaign (null for other calls).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeGuard

__all__ = ["FLAT_FIELDS", "QUEUE_METADATA", "flatten_call", "iso_from_ms", "transcript_text"]

FLAT_FIELDS = (
    "call_id",
    "agent_id",
    "direction",
    "from_number",
    "to_number",
    "call_status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "disconnection_reason",
    "transcript_text",
    "call_summary",
    "user_sentiment",
    "call_successful",
    "in_voicemail",
    "recording_url",
    "queued_call_id",
    "campaign",
)
# Where a call placed by the campaign dialer carries its queued call and campaign.
QUEUE_METADATA = {
    "queued_call_id": "retell_connector_queued_call_id",
    "campaign": "retell_connector_campaign",
}
_SPEAKERS = {"agent": "Agent", "user": "User", "transfer_target": "Transfer target"}


def iso_from_ms(value: Any) -> str | None:
    """Epoch milliseconds as ``2024-01-01T12:00:00.000Z``; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, beyond year 9999
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transcript_text(call: dict[str, Any]) -> str | None:
    """Retell's ``transcript``, or one built from ``transcript_object`` turns."""
    if isinstance(call.get("transcript"), str):
        return str(call["transcript"])
    turns = call.get("transcript_object")
    if not isinstance(turns, list):
        return None
    lines = []
    for turn in turns:
        if isinstance(turn, dict) and isinstance(turn.get("content"), str):
            role = str(turn.get("role", ""))
            lines.append(f"{_SPEAKERS.get(role, role.title())}: {turn['content']}")
    return "\n".join(lines)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _duration_seconds(call: dict[str, Any]) -> float | None:
    duration_ms = call.get("duration_ms")
    if not _is_number(duration_ms):
        start, end = call.get("start_timestamp"), call.get("end_timestamp")
        if not (_is_number(start) and _is_number(end)):  # booleans are not timestamps
            return None
        duration_ms = end - start
    return round(duration_ms / 1000, 3)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def flatten_call(call: dict[str, Any]) -> dict[str, Any]:
    """The DESIGN §5 ``flat`` object for one call (missing values are null)."""
    raw_analysis = call.get("call_analysis")
    analysis: dict[str, Any] = raw_analysis if isinstance(raw_analysis, dict) else {}
    flat: dict[str, Any] = {
        "call_id": call.get("call_id"),
        "agent_id": call.get("agent_id"),
        "direction": call.get("direction"),
        "from_number": call.get("from_number"),
        "to_number": call.get("to_number"),
        "call_status": call.get("call_status"),
        "started_at": iso_from_ms(call.get("start_timestamp")),
        "ended_at": iso_from_ms(call.get("end_timestamp")),
        "duration_seconds": _duration_seconds(call),
        "disconnection_reason": call.get("disconnection_reason"),
        "transcript_text": transcript_text(call),
        "call_summary": analysis.get("call_summary"),
        "user_sentiment": analysis.get("user_sentiment"),
        "call_successful": analysis.get("call_successful"),
        "in_voicemail": analysis.get("in_voicemail"),
        "recording_url": call.get("recording_url"),
    }
    metadata = call.get("metadata")
    for name, key in QUEUE_METADATA.items():
        value = metadata.get(key) if isinstance(metadata, dict) else None
        flat[name] = value if isinstance(value, str) else None
    custom = analysis.get("custom_analysis_data")
    if isinstance(custom, dict):
        for key, value in custom.items():
            flat[f"custom_analysis_data.{key}"] = _scalar(value)
    return flat
