"""The paragraph beside each tool result: what happened, numbers masked."""

from __future__ import annotations

from typing import Any

import pytest

from connector.mcp.keys import derived_key
from connector.mcp.summary import duration_text, mask_number, mask_numbers, summarize
from tests.conftest import sample_call


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+14155550123", "+1 415-••• 0123"),
        ("+12137774445", "+1 213-••• 4445"),
        ("+442071838750", "+44 20 ••• 8750"),
        ("+4915112345678", "+49 1511 ••• 5678"),
        ("+123", "+…23"),
        ("not a number", "not a number"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    """Country code, first group and last four digits stay; the middle is dots."""
    assert mask_number(number) == masked


def test_mask_numbers_masks_every_number_in_a_text() -> None:
    """Numbers written anywhere (labels, summaries) are masked, other text is kept."""
    text = "Sales line +1 415-777-4444 and +12137774445; call_abc123 stays."
    assert (
        mask_numbers(text) == "Sales line +1 415-••• 4444 and +1 213-••• 4445; call_abc123 stays."
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (60, "1 min"),
        (134, "2 min 14 s"),
        (3600, "1 h"),
        (3720, "1 h 2 min"),
    ],
)
def test_duration_text(seconds: float, text: str) -> None:
    """Durations read as people say them."""
    assert duration_text(seconds) == text


ENDED: dict[str, Any] = sample_call(
    call_status="ended",
    to_number="+14155550123",
    start_timestamp=1_700_000_000_000,
    end_timestamp=1_700_000_134_000,
    disconnection_reason="agent_hangup",
    call_analysis={
        "call_summary": "The customer booked a demo for Tuesday.",
        "user_sentiment": "Positive",
        "call_successful": True,
    },
)


@pytest.mark.parametrize(
    ("output", "body", "expected"),
    [
        (
            "call.json",
            ENDED,
            "Call to +1 415-••• 0123 ended after 2 min 14 s (agent_hangup); summary: The customer "
            "booked a demo for Tuesday.; sentiment: Positive; successful: yes. Call ID call_abc123.",
        ),
        (
            "call.json",
            sample_call(),
            "Call to +1 415-••• 0123 is being dialled. Call ID call_abc123.",
        ),
        (
            "call.json",
            sample_call(call_status="not_connected", disconnection_reason="dial_no_answer"),
            "Call to +1 415-••• 0123 did not connect (dial_no_answer). Call ID call_abc123.",
        ),
        (
            "call.json",
            sample_call(call_status="ended", direction="inbound", duration_ms=45_000),
            "Call from +1 415-••• 4444 ended after 45 s; not analysed yet (Retell adds the summary "
            "shortly after a call ends). Call ID call_abc123.",
        ),
        (
            "options.json",
            [{"value": "+14157774444", "label": "+1 415-777-4444 · Sales line"}],
            "Phone numbers (1): +1 415-••• 4444 · Sales line.",
        ),
        (
            "options.json",
            [{"value": "agent_1", "label": "Support · production v3"}],
            "Phone numbers (1): Support · production v3 (agent_1).",
        ),
        ("options.json", [], "No phone numbers found in the Retell account."),
        (
            "call-event.json",
            [],
            "No call events match: no call has started, ended or been analysed lately.",
        ),
        (
            "queued-call.json",
            {
                "id": "qc_5d1f0c3b9a7e42d8b6c1a0f3",
                "state": "completed",
                "campaign": "spring",
                "to_number": "+12137774445",
                "attempts_used": 1,
                "max_attempts": 3,
                "call_id": "call_abc123",
            },
            "Queued call qc_5d1f0c3b9a7e42d8b6c1a0f3 to +1 213-••• 4445 in campaign spring is "
            "completed; 1 of 3 attempts used; call ID call_abc123 (get_call shows how it went).",
        ),
        ("something-new.json", {"ok": True}, "Phone numbers: done."),
    ],
)
def test_summaries(output: str, body: Any, expected: str) -> None:
    """Each answer reads as one paragraph chosen by its schema."""
    assert summarize(output, "Phone numbers", body) == expected


def test_event_list_names_each_event_and_its_call() -> None:
    """Recent events: how many, then each event with its time and what the call came to."""
    item = {
        "id": "evt_1",
        "event": "call_analyzed",
        "created_at": "2026-11-29T14:02:07.000Z",
        "call": ENDED,
    }
    text = summarize("call-event.json", "Recent Call Events", [item])
    assert text.startswith("1 call event, newest first: call_analyzed at 2026-11-29 14:02 UTC: ")
    assert "Call to +1 415-••• 0123 ended after 2 min 14 s" in text


def test_derived_keys_depend_on_session_request_and_tool() -> None:
    """Same session, id and tool: same key; any of them different (1 vs "1" too): another."""
    key = derived_key("s1", 7, "create_phone_call")
    assert key == derived_key("s1", 7, "create_phone_call")
    others = {
        derived_key("s2", 7, "create_phone_call"),
        derived_key("s1", 8, "create_phone_call"),
        derived_key("s1", "7", "create_phone_call"),
        derived_key("s1", 7, "queue_phone_call"),
    }
    assert key not in others and len(others) == 4
    assert key.startswith("mcp-") and len(key) == 44
