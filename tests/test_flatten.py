"""The ``flat`` view of a call and the stable event id: pure functions, table-driven."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from connector.events import CALL_EVENTS, dedupe_key, event_id
from connector.flatten import FLAT_FIELDS, flatten_call, iso_from_ms, transcript_text
from tests.conftest import sample_call

MS = 1_700_000_000_000  # 2023-11-14T22:13:20.000Z
TURNS = [{"role": "agent", "content": "Hi, this is Ava."}, {"role": "user", "content": "Hello!"}]


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (MS, "2023-11-14T22:13:20.000Z"),
        (MS + 123, "2023-11-14T22:13:20.123Z"),
        (MS + 999.9, "2023-11-14T22:13:20.999Z"),
        (float(MS), "2023-11-14T22:13:20.000Z"),
        (True, None),
        (False, None),
        (None, None),
        (str(MS), None),
        ([MS], None),
        (1e20, None),
        (float("inf"), None),
        (float("nan"), None),
    ],
)
def test_iso_from_ms(value: Any, iso: str | None) -> None:
    """Epoch ms become UTC ISO 8601 with milliseconds and Z; anything else (bools, out of range) None."""
    assert iso_from_ms(value) == iso


@pytest.mark.parametrize(
    ("call", "text"),
    [
        ({"transcript": "Agent: Hi"}, "Agent: Hi"),
        ({"transcript": "Agent: Hi", "transcript_object": TURNS}, "Agent: Hi"),
        ({"transcript_object": TURNS}, "Agent: Hi, this is Ava.\nUser: Hello!"),
        (
            {"transcript_object": [{"role": "transfer_target", "content": "Sales here."}]},
            "Transfer target: Sales here.",
        ),
        ({"transcript_object": [{"role": "narrator", "content": "x"}]}, "Narrator: x"),
        (
            {"transcript_object": ["junk", {"role": "agent"}, {"role": "user", "content": "Yes"}]},
            "User: Yes",
        ),
        ({"transcript_object": []}, ""),
        ({"transcript_object": "Agent: Hi"}, None),
        ({"transcript": 5}, None),
        ({}, None),
    ],
    ids=[
        "transcript",
        "transcript-wins",
        "from-turns",
        "transfer-target",
        "unknown-role",
        "skips-bad-turns",
        "no-turns",
        "turns-not-a-list",
        "transcript-not-text",
        "absent",
    ],
)
def test_transcript_text(call: dict[str, Any], text: str | None) -> None:
    """Retell's transcript text, else one line per turn built from transcript_object."""
    assert transcript_text(call) == text


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ({"start_timestamp": MS}, {"started_at": "2023-11-14T22:13:20.000Z"}),
        ({"end_timestamp": MS + 30_500}, {"ended_at": "2023-11-14T22:13:50.500Z"}),
        ({"start_timestamp": True, "end_timestamp": False}, {"started_at": None, "ended_at": None}),
        ({"duration_ms": 30_500}, {"duration_seconds": 30.5}),
        ({"start_timestamp": MS, "end_timestamp": MS + 12_345}, {"duration_seconds": 12.345}),
        (
            {"duration_ms": 1_000, "start_timestamp": MS, "end_timestamp": MS + 9_000},
            {"duration_seconds": 1.0},
        ),
        (
            {"duration_ms": True, "start_timestamp": MS, "end_timestamp": MS + 9_000},
            {"duration_seconds": 9.0},
        ),
        ({"start_timestamp": MS}, {"duration_seconds": None}),
        ({"start_timestamp": False, "end_timestamp": True}, {"duration_seconds": None}),
        (
            {"transcript_object": TURNS},
            {"transcript_text": "Agent: Hi, this is Ava.\nUser: Hello!"},
        ),
        (
            {"call_analysis": {"call_summary": "Booked.", "user_sentiment": "Positive"}},
            {"call_summary": "Booked.", "user_sentiment": "Positive", "call_successful": None},
        ),
        (
            {"call_analysis": {"call_successful": False, "in_voicemail": True}},
            {"call_successful": False, "in_voicemail": True},
        ),
        (
            {},
            {
                "call_summary": None,
                "user_sentiment": None,
                "call_successful": None,
                "in_voicemail": None,
            },
        ),
        ({"call_analysis": "pending"}, {"call_summary": None, "in_voicemail": None}),
        (
            {"call_analysis": {"custom_analysis_data": {"score": 7, "booked": True, "note": None}}},
            {
                "custom_analysis_data.score": 7,
                "custom_analysis_data.booked": True,
                "custom_analysis_data.note": None,
            },
        ),
        (
            {
                "call_analysis": {
                    "custom_analysis_data": {"tags": ["a", "b"], "who": {"name": "José"}}
                }
            },
            {
                "custom_analysis_data.tags": '["a","b"]',
                "custom_analysis_data.who": '{"name":"José"}',
            },
        ),
        (
            {"recording_url": "https://example.com/r.wav", "direction": "inbound"},
            {"recording_url": "https://example.com/r.wav", "direction": "inbound"},
        ),
    ],
    ids=[
        "started-at",
        "ended-at",
        "booleans-are-not-timestamps",
        "duration-from-duration-ms",
        "duration-from-timestamps",
        "duration-ms-wins",
        "boolean-duration-ignored",
        "no-duration",
        "boolean-timestamps-give-no-duration",
        "transcript-from-turns",
        "analysis",
        "analysis-false-values-kept",
        "no-analysis",
        "analysis-not-an-object",
        "custom-scalars",
        "custom-nested-as-json",
        "passthrough",
    ],
)
def test_flatten_call(call: dict[str, Any], expected: dict[str, Any]) -> None:
    """Each flat field is the call's value made plain: ISO times, seconds, text, JSON text."""
    flat = flatten_call(call)
    assert {key: flat.get(key, "<absent>") for key in expected} == expected


def test_flat_has_every_field_even_for_an_empty_call() -> None:
    """Every documented flat field is present (null when unknown), and nothing else."""
    assert flatten_call({}) == dict.fromkeys(FLAT_FIELDS)


def test_custom_analysis_data_adds_one_field_per_key() -> None:
    """Custom analysis keys are appended after the fixed fields, never nested."""
    flat = flatten_call({"call_analysis": {"custom_analysis_data": {"a": 1, "b": [2]}}})
    assert list(flat) == [*FLAT_FIELDS, "custom_analysis_data.a", "custom_analysis_data.b"]


def test_flatten_does_not_change_the_call() -> None:
    """The forwarded call object stays exactly as Retell sent it."""
    call = sample_call(
        call_analysis={"custom_analysis_data": {"tags": ["x"]}}, transcript_object=TURNS
    )
    before = copy.deepcopy(call)
    flatten_call(call)
    assert call == before


# --- event ids --------------------------------------------------------------------------


def test_event_id_is_stable() -> None:
    """The same (call, event) always has the same id, whatever else about the call changed."""
    first = event_id("call_ended", sample_call(call_status="ongoing"))
    again = event_id("call_ended", sample_call(call_status="ended", transcript="Agent: Hi"))
    assert first == again
    assert first.startswith("evt_") and len(first) == len("evt_") + 24


def test_event_ids_differ_per_call_and_event() -> None:
    """Every (call, event) pair gets its own id."""
    pairs = itertools.product(("call_a", "call_b"), CALL_EVENTS)
    ids = {event_id(event, sample_call(call_id=call_id)) for call_id, event in pairs}
    assert len(ids) == 2 * len(CALL_EVENTS)


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ({"transcript_object": TURNS[:1]}, {"transcript_object": TURNS}, False),
        ({"transcript_object": TURNS}, {"transcript_object": copy.deepcopy(TURNS)}, True),
        (
            {
                "transcript_object": TURNS,
                "transcript_with_tool_calls": [*TURNS, {"role": "tool_call_invocation"}],
            },
            {"transcript_object": TURNS},
            False,
        ),
        ({}, {"transcript_object": []}, True),
    ],
    ids=["one-vs-two-turns", "same-turns", "tool-calls-count", "none-vs-empty"],
)
def test_transcript_update_id_follows_the_turn_count(
    first: dict[str, Any], second: dict[str, Any], same: bool
) -> None:
    """transcript_updated has one id per turn count (tool calls included), stable on retry."""
    ids = {event_id("transcript_updated", sample_call(**fields)) for fields in (first, second)}
    assert (len(ids) == 1) is same


def test_turn_count_does_not_split_other_events() -> None:
    """For events other than transcript_updated, the transcript length does not matter."""
    short = sample_call(transcript_object=TURNS[:1])
    longer = sample_call(transcript_object=TURNS)
    assert event_id("call_ended", short) == event_id("call_ended", longer)


def test_dedupe_key_names_the_call_and_event() -> None:
    """The dedupe key is readable: call id, event, and turn count for transcript updates."""
    assert dedupe_key("call_ended", sample_call()) == "call_abc123:call_ended"
    turns = sample_call(transcript_object=TURNS)
    assert dedupe_key("transcript_updated", turns) == "call_abc123:transcript_updated:2"
