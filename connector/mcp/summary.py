"""One paragraph an assistant can quote, beside each tool's JSON result.

The paragraph says what happened in the user's terms ("Call to +1 415-••• 0123 ended after
2 min 14 s; summary: …"). Phone numbers in it are masked, keeping the country code, the first
group and the last four digits, so a quoted answer does not spread whole numbers; the JSON
next to it has them in full for the next tool call. The summary is chosen by the answer's
schema (``call.json``, ``queued-call.json``, ...), so a new action that answers with a known
object is summarised at once; any other answer gets a plain sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import phonenumbers

from connector.flatten import flatten_call

__all__ = ["duration_text", "mask_number", "mask_numbers", "summarize"]

_NUMBER_IN_TEXT = re.compile(r"\+\d[\d ().-]{5,}\d")
_SUMMARY_CHARS = 600
_LISTED = 5  # items named in a list's paragraph


def mask_number(number: str) -> str:
    """``+14155550123`` → ``+1 415-••• 0123``; what is not a number → ``+…`` and 2 digits."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        parsed = None
    digits = re.sub(r"\D", "", number)
    if parsed is None or len(str(parsed.national_number)) < 7:
        return f"+…{digits[-2:]}" if digits else number
    pretty = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    country, _, rest = pretty.partition(" ")
    first = re.match(r"\d+([ -]?)", rest)
    if first is None or len(re.sub(r"\D", "", first.group(0))) > 4:
        return f"{country} ••• {digits[-4:]}"
    separator = first.group(1) or " "
    return f"{country} {first.group(0).rstrip(' -')}{separator}••• {digits[-4:]}"


def mask_numbers(text: str) -> str:
    """Every phone number written in ``text``, masked."""
    return _NUMBER_IN_TEXT.sub(lambda m: mask_number(m.group(0)), text)


def duration_text(seconds: float) -> str:
    """``134`` → ``2 min 14 s``; ``3720`` → ``1 h 2 min``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _when(iso: Any) -> str:
    """``2026-11-29T14:02:07.000Z`` → ``2026-11-29 14:02 UTC``."""
    if not isinstance(iso, str):
        return "an unknown time"
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment.utcoffset() is not None else iso


def _shorten(text: str, limit: int = _SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _party(call: dict[str, Any]) -> str:
    """``Call to +1 415-••• 0123`` (outbound) or ``Call from …`` (inbound)."""
    if call.get("direction") == "inbound" and isinstance(call.get("from_number"), str):
        return f"Call from {call['from_number']}"
    if isinstance(call.get("to_number"), str):
        return f"Call to {call['to_number']}"
    return f"Call {call.get('call_id', '')}".rstrip()


def _yes_no(value: Any) -> str | None:
    return None if not isinstance(value, bool) else ("yes" if value else "no")


def call_sentence(call: dict[str, Any]) -> str:
    """What a call came to: its status, length, reason and Retell's analysis."""
    flat = flatten_call(call)
    party, status = _party(call), flat["call_status"]
    reason = flat["disconnection_reason"]
    because = f" ({reason})" if isinstance(reason, str) else ""
    if status == "registered":
        return f"{party} is being dialled"
    if status == "ongoing":
        return f"{party} is in progress since {_when(flat['started_at'])}"
    if status == "not_connected":
        return f"{party} did not connect{because}"
    if status == "error":
        return f"{party} failed{because}"
    if status != "ended":
        return f"{party} has status {status}"
    length = flat["duration_seconds"]
    parts = [f"{party} ended after {duration_text(length)}" if length else f"{party} ended"]
    parts[0] += because
    if isinstance(flat["call_summary"], str) and flat["call_summary"].strip():
        parts.append(f"summary: {_shorten(flat['call_summary'])}")
    if isinstance(flat["user_sentiment"], str):
        parts.append(f"sentiment: {flat['user_sentiment']}")
    if (successful := _yes_no(flat["call_successful"])) is not None:
        parts.append(f"successful: {successful}")
    if flat["in_voicemail"] is True:
        parts.append("it reached voicemail")
    if not isinstance(call.get("call_analysis"), dict):
        parts.append("not analysed yet (Retell adds the summary shortly after a call ends)")
    return "; ".join(parts)


def _created_call(call: dict[str, Any]) -> str:
    agent = call.get("agent_name") or call.get("agent_id")
    source = f" from {call['from_number']}" if isinstance(call.get("from_number"), str) else ""
    return (
        f"{_party(call)}{source} placed with agent {agent}: call ID {call.get('call_id')}, "
        f"status {call.get('call_status')}. Use get_call with this call ID to see how it "
        "goes; the transcript and summary come once the call has ended."
    )


def _call(call: dict[str, Any]) -> str:
    return f"{call_sentence(call)}. Call ID {call.get('call_id')}."


def _event(item: dict[str, Any]) -> str:
    call = item.get("call") if isinstance(item.get("call"), dict) else {}
    return f"{item.get('event')} at {_when(item.get('created_at'))}: {call_sentence(call or {})}"


def _events(items: list[Any]) -> str:
    if not items:
        return "No call events match: no call has started, ended or been analysed lately."
    named = "; ".join(_event(i) for i in items[:_LISTED] if isinstance(i, dict))
    more = f" (and {len(items) - _LISTED} more)" if len(items) > _LISTED else ""
    noun = "event" if len(items) == 1 else "events"
    return f"{len(items)} call {noun}, newest first{more}: {named}."


_STATES = {
    "queued": "waiting to be dialled",
    "dialing": "being dialled now",
    "calling": "on the phone now",
    "completed": "completed",
    "failed": "failed",
    "expired": "expired before it could be placed",
    "cancelled": "cancelled",
}


def _queued_call(queued: dict[str, Any]) -> str:
    state = str(queued.get("state"))
    parts = [
        f"Queued call {queued.get('id')} to {queued.get('to_number')} in campaign "
        f"{queued.get('campaign')} is {_STATES.get(state, state)}"
    ]
    if state == "queued" and queued.get("next_attempt_at"):
        parts.append(f"next attempt at {_when(queued['next_attempt_at'])}")
    used, allowed = queued.get("attempts_used"), queued.get("max_attempts")
    if isinstance(used, int):
        parts.append(f"{used} of {allowed} attempts used" if allowed else f"{used} attempts used")
    for key, label in (("last_outcome", "last outcome"), ("reason", "reason")):
        if queued.get(key):
            parts.append(f"{label}: {queued[key]}")
    if queued.get("call_id"):
        parts.append(f"call ID {queued['call_id']} (get_call shows how it went)")
    return "; ".join(parts) + "."


def _options(items: list[Any], title: str) -> str:
    if not items:
        return f"No {title.lower()} found in the Retell account."
    named = []
    for item in items[:_LISTED] if len(items) > _LISTED + 1 else items:
        if not isinstance(item, dict):
            continue
        label, value = str(item.get("label", "")), str(item.get("value", ""))
        numeric = _NUMBER_IN_TEXT.fullmatch(value) is not None
        named.append(label if numeric or value in label else f"{label} ({value})")
    more = f", and {len(items) - len(named)} more" if len(items) > len(named) else ""
    return f"{title} ({len(items)}): {'; '.join(named)}{more}."


_OBJECTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "created-call.json": _created_call,
    "call.json": _call,
    "queued-call.json": _queued_call,
}


def summarize(output: str, title: str, body: Any) -> str:
    """The paragraph for an answer described by schema ``output`` (of the tool ``title``)."""
    if isinstance(body, dict) and output in _OBJECTS:
        text = _OBJECTS[output](body)
    elif isinstance(body, list) and output == "call-event.json":
        text = _events(body)
    elif isinstance(body, list) and output == "options.json":
        text = _options(body, title)
    elif isinstance(body, list):
        text = f"{title}: {len(body)} items."
    else:
        text = f"{title}: done."
    return mask_numbers(text)
