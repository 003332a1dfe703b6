"""The call-events trigger's published contract: schemas, manifest entry and samples agree."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from standardwebhooks import Webhook

from connector import manifest
from connector.campaigns.notices import QUEUED_CALL_EVENTS
from connector.events import CALL_EVENTS, DEFAULT_EVENTS, SUBSCRIBABLE_EVENTS, build_event
from connector.flatten import FLAT_FIELDS
from connector.samples import SAMPLE_CALL, sample_call, sample_events

DATA = Path(__file__).parent / "data"
RECEIVED_MS = 1_795_541_440_000


def errors(schema: str, instance: object) -> list[str]:
    """Validation messages of ``instance`` against a schema, offline through the registry."""
    return [e.message for e in manifest.schema_validator(schema).iter_errors(instance)]


def trigger() -> dict[str, Any]:
    """The manifest's call-events trigger."""
    (found,) = [t for t in manifest.load_manifest()["triggers"] if t["key"] == "call_events"]
    return dict(found)


def strings(node: Any) -> Iterator[str]:
    """Every string inside a JSON value, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def analyzed_event() -> dict[str, Any]:
    """The built-in call_analyzed sample event."""
    (event,) = sample_events(["call_analyzed"])
    return event


# --- call-event.json and the samples -------------------------------------------------


@pytest.mark.parametrize("event", CALL_EVENTS)
def test_sample_event_validates(event: str) -> None:
    """Each built-in sample event is a valid call event."""
    (item,) = sample_events([event])
    assert item["event"] == event
    assert errors("call-event", item) == []


def test_sample_call_is_a_complete_valid_call() -> None:
    """SAMPLE_CALL is a valid Retell call carrying every field a user may map."""
    assert errors("call", SAMPLE_CALL) == []
    expected = {
        "transcript", "transcript_object", "transcript_with_tool_calls", "latency", "call_cost",
        "llm_token_usage", "call_analysis", "metadata", "retell_llm_dynamic_variables",
        "recording_url", "public_log_url", "disconnection_reason", "start_timestamp",
        "end_timestamp", "duration_ms",
    }  # fmt: skip
    assert expected <= SAMPLE_CALL.keys()
    roles = {entry["role"] for entry in SAMPLE_CALL["transcript_with_tool_calls"]}
    assert {"tool_call_invocation", "tool_call_result"} <= roles
    assert all(turn["words"] for turn in SAMPLE_CALL["transcript_object"])
    assert SAMPLE_CALL["call_analysis"]["custom_analysis_data"] == {
        "appointment_booked": True,
        "appointment_time": "2026-12-01T10:00:00-08:00",
    }


def test_default_samples_are_newest_first_and_deterministic() -> None:
    """The default sample is call_analyzed then call_ended, identical on every call."""
    first = sample_events()
    assert [item["event"] for item in first] == ["call_analyzed", "call_ended"]
    assert first == sample_events(DEFAULT_EVENTS)
    first[0]["call"]["call_id"] = "changed"
    assert sample_events()[0]["call"]["call_id"] != "changed"


@pytest.mark.parametrize(
    ("event", "has_analysis", "status"),
    [
        ("call_started", False, "ongoing"),
        ("call_ended", False, "ended"),
        ("call_analyzed", True, "ended"),
        ("transcript_updated", False, "ongoing"),
        ("transfer_started", False, "ongoing"),
        ("transfer_ended", False, "ended"),
    ],
)
def test_sample_call_per_event(event: str, has_analysis: bool, status: str) -> None:
    """Each event's call looks as Retell sends it: call_analysis only in call_analyzed."""
    call = sample_call(event)
    assert ("call_analysis" in call) is has_analysis
    assert call["call_status"] == status


def test_sample_events_dedupes_names() -> None:
    """A name asked for twice gives one event."""
    assert [e["event"] for e in sample_events(["call_ended", "call_ended"])] == ["call_ended"]


def test_sample_call_rejects_unknown_event() -> None:
    """An unknown event name is an error naming it, not an empty sample."""
    with pytest.raises(ValueError, match="call_exploded"):
        sample_call("call_exploded")


def test_sample_phone_numbers_are_fictional() -> None:
    """Every phone number in the samples is in the +1 415-555-01xx fictional range."""
    found = {
        number
        for text in strings(sample_events(CALL_EVENTS))
        for number in re.findall(r"\+\d{8,}", text)
    }
    assert found
    assert all(re.fullmatch(r"\+141555501\d\d", number) for number in found), found


def test_analyzed_sample_flat_fields() -> None:
    """The analyzed sample's flat view carries analysis and custom data as scalars."""
    flat = analyzed_event()["flat"]
    assert flat["call_summary"] and flat["user_sentiment"] == "Positive"
    assert flat["custom_analysis_data.appointment_booked"] is True
    assert flat["custom_analysis_data.appointment_time"] == "2026-12-01T10:00:00-08:00"


def test_seed_example_call_event_validates() -> None:
    """A built event for Retell's own example call is a valid call event."""
    call = json.loads((DATA / "retell_example_call.json").read_text(encoding="utf-8"))
    for event in ("call_ended", "call_analyzed"):
        assert errors("call-event", build_event(event, call, received_at_ms=RECEIVED_MS)) == []


def flat_schema() -> dict[str, Any]:
    return dict(manifest.load_schema("call-event")["properties"]["flat"])


def test_flat_schema_lists_exactly_flat_fields() -> None:
    """FLAT_FIELDS and the flat schema's named properties are the same set, all required."""
    schema = flat_schema()
    assert list(schema["properties"]) == list(FLAT_FIELDS)
    assert schema["required"] == list(FLAT_FIELDS)
    assert list(schema["patternProperties"]) == ["^custom_analysis_data\\."]


@pytest.mark.parametrize("field", [*FLAT_FIELDS, "^custom_analysis_data\\."])
def test_flat_field_has_label(field: str) -> None:
    """Exporters use each flat field's title and description as output labels."""
    schema = flat_schema()
    prop = {**schema["properties"], **schema["patternProperties"]}[field]
    assert prop.get("title") and prop.get("description")


def _with(path: list[str], value: object) -> dict[str, Any]:
    event = copy.deepcopy(analyzed_event())
    node = event
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return event


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["event"], "call_invented_next_year"),
        (["flat", "new_field_next_year"], {"nested": True}),
        (["flat", "custom_analysis_data.score"], 7.5),
        (["flat", "started_at"], None),
        (["flat", "ended_at"], "2026-11-24T09:30:32-08:00"),
        (["call", "brand_new_field"], [1, 2]),
    ],
)
def test_call_event_accepts_forward_compatible_change(path: list[str], value: object) -> None:
    """New event names, new flat fields and new call fields do not break validation."""
    assert errors("call-event", _with(path, value)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["id"], "5d9c1f0a2b7e"),
        (["event"], ""),
        (["created_at"], "yesterday"),
        (["created_at"], 1795541438040),
        (["flat", "started_at"], "2026-11-24 17:30"),
        (["flat", "duration_seconds"], "27.84"),
        (["flat", "call_successful"], "yes"),
        (["flat", "custom_analysis_data.slots"], ["10am", "11am"]),
        (["call", "call_id"], None),
    ],
)
def test_call_event_rejects_wrong_value(path: list[str], value: object) -> None:
    """Known members keep their types; custom analysis values must be scalars."""
    assert errors("call-event", _with(path, value)) != []


@pytest.mark.parametrize("member", ["id", "event", "created_at", "call", "flat"])
def test_call_event_requires_member(member: str) -> None:
    """All five members of a call event are required."""
    event = analyzed_event()
    del event[member]
    assert errors("call-event", event) == [f"{member!r} is a required property"]


# --- subscriptions and deliveries ----------------------------------------------------

HOOK = "https://hooks.zapier.com/hooks/standard/1/abc/"


@pytest.mark.parametrize(
    "body",
    [
        {"target_url": HOOK},
        {"target_url": HOOK, "events": ["call_analyzed"]},
        {"target_url": HOOK, "events": list(CALL_EVENTS), "agent_id": "agent_1"},
        {"target_url": "http://127.0.0.1:9000/hook?x=1"},
    ],
)
def test_subscription_input_accepts(body: dict[str, Any]) -> None:
    """A target URL alone, or with events and an agent, is a good subscribe body."""
    assert errors("subscription.input", body) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"target_url": HOOK, "event": "call_ended"}, id="unknown-field"),
        pytest.param({"target_url": HOOK, "events": []}, id="empty-events"),
        pytest.param({"target_url": HOOK, "events": ["call_exploded"]}, id="unknown-event"),
        pytest.param({"target_url": HOOK, "events": ["call_ended"] * 2}, id="repeated-event"),
        pytest.param({"target_url": HOOK, "events": "call_ended"}, id="events-not-list"),
        pytest.param({"target_url": "not a url"}, id="not-uri"),
        pytest.param({"target_url": "ftp://example.com/hook"}, id="not-http"),
        pytest.param({"target_url": "https://"}, id="no-host"),
        pytest.param({"events": ["call_ended"]}, id="no-target"),
        pytest.param({"target_url": HOOK, "agent_id": ""}, id="empty-agent"),
    ],
)
def test_subscription_input_rejects(body: dict[str, Any]) -> None:
    """Unknown fields, bad event lists and non-URL targets are refused."""
    assert errors("subscription.input", body) != []


def test_subscription_input_matches_events_module() -> None:
    """The input's event choices are the call, inbound and queued-call events; the default is
    DEFAULT_EVENTS."""
    events = manifest.load_schema("subscription.input")["properties"]["events"]
    assert events["items"]["enum"] == [*SUBSCRIBABLE_EVENTS, *QUEUED_CALL_EVENTS]
    assert events["default"] == list(DEFAULT_EVENTS)


def subscription(**changes: Any) -> dict[str, Any]:
    created = copy.deepcopy(manifest.load_schema("subscription")["examples"][0])
    created.update(changes)
    return {k: v for k, v in created.items() if v is not ...}


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        ("subscription", subscription(), True),
        ("subscription", subscription(secret=...), True),
        ("subscription", subscription(status="disabled", disabled_reason="5 days"), True),
        ("subscription", subscription(status="paused"), False),
        ("subscription", subscription(id="8c1d"), False),
        ("subscription", subscription(secret="MfKQ9r8G"), False),
        ("subscription", subscription(agent_id=...), False),
        ("subscription", subscription(created_at="today"), False),
        ("subscription#/$defs/list", {"items": [subscription(secret=...)]}, True),
        ("subscription#/$defs/list", {"items": []}, True),
        ("subscription#/$defs/list", {"items": [subscription()]}, False),
        ("subscription#/$defs/deleted", {"id": "sub_1", "deleted": True}, True),
        ("subscription#/$defs/deleted", {"id": "sub_1", "deleted": False}, False),
    ],
)
def test_subscription_schema(schema: str, instance: object, valid: bool) -> None:
    """The subscription answer, its list (no secrets) and the delete answer."""
    name, _, pointer = schema.partition("#")
    wrapper = {"$id": manifest.SCHEMA_BASE_URI + "t.json", "$ref": f"{name}.json#{pointer}"}
    validator = Draft202012Validator(wrapper, registry=manifest.registry())
    assert validator.is_valid(instance) is valid


def delivery(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(manifest.load_schema("delivery")["examples"][0]), **changes}


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        (delivery(), True),
        (delivery(state="pending", next_attempt_at="2026-11-24T17:40:00Z", history=[]), True),
        (delivery(state="lost"), False),
        (delivery(id="3e9a"), False),
        (delivery(attempts=-1), False),
        (delivery(last_status="200"), False),
        (delivery(history=[{"attempt": 1}]), False),
        (delivery(history=[{**delivery()["history"][0], "response_body": "x" * 1025}]), False),
    ],
)
def test_delivery_schema(instance: dict[str, Any], valid: bool) -> None:
    """delivery.json accepts a delivery log entry and refuses wrong states and shapes."""
    assert (errors("delivery", instance) == []) is valid


def test_secret_example_signs_and_verifies_a_delivery() -> None:
    """The documented secret format works with the standardwebhooks library, id = event id."""
    secret = subscription()["secret"]
    event = analyzed_event()
    body = json.dumps(event)
    hook = Webhook(secret)
    now = datetime.now(tz=UTC)
    headers = {
        "webhook-id": event["id"],
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": hook.sign(event["id"], now, body),
    }
    assert hook.verify(body, headers) == event


# --- the manifest's trigger ----------------------------------------------------------


def test_manifest_check_is_clean() -> None:
    """retell-connector check finds nothing wrong with the manifest and schemas."""
    assert manifest.check() == []


def test_trigger_refs_resolve() -> None:
    """Every schema the trigger names exists and compiles."""
    found = trigger()
    refs = [found["output"], found["subscribe"]["input"], found["subscribe"]["output"]]
    refs += [found["poll"]["output"], found["sample"]["output"]]
    for ref in refs:
        assert manifest.schema_file(ref).is_file()
        manifest.schema_validator(ref.removeprefix("schemas/"))


def test_trigger_events_match_events_module() -> None:
    """The trigger's event values are every subscribable event (the call events, then the
    connector's inbound and queued-call events), its defaults DEFAULT_EVENTS, and the events
    polling lists exactly CALL_EVENTS."""
    events = trigger()["events"]
    assert tuple(e["value"] for e in events) == SUBSCRIBABLE_EVENTS + QUEUED_CALL_EVENTS
    assert tuple(e["value"] for e in events if e.get("default")) == DEFAULT_EVENTS
    assert tuple(e["value"] for e in events if e.get("poll", True)) == CALL_EVENTS


def test_trigger_shape() -> None:
    """Paths, dedupe key and signing are the contract the API implements."""
    found = trigger()
    base = "/v1/triggers/call-events"
    assert (found["subscribe"]["method"], found["subscribe"]["path"]) == (
        "POST",
        base + "/subscriptions",
    )
    assert found["unsubscribe"] == {"method": "DELETE", "path": base + "/subscriptions/{id}"}
    assert (found["poll"]["path"], found["sample"]["path"]) == (base, base + "/sample")
    assert found["dedupe_key"] == "id" and found["output"] == "schemas/call-event.json"
    assert found["signing"]["headers"] == {
        "id": "webhook-id",
        "timestamp": "webhook-timestamp",
        "signature": "webhook-signature",
    }
    secret = found["signing"]["secret"]
    assert secret in manifest.load_schema("subscription")["properties"]


def test_trigger_filters_are_subscribe_inputs() -> None:
    """Each filter is a property of the subscribe body, with the same options source."""
    properties = manifest.load_schema("subscription.input")["properties"]
    for field in trigger()["filters"]:
        assert field["key"] in properties
        if "options" in field:
            assert field["options"]["source"] == properties[field["key"]]["x-options"]["source"]


BROKEN_TRIGGER = [
    ("signing-scheme", "signing", {"scheme": "hmac", "secret": "secret", "headers": {}}, "signing"),
    ("subscribe-input", "subscribe", {"method": "POST", "path": "/x", "input": "schemas/nope.json"}, "schemas/nope.json does not exist"),
    ("poll-output", "poll", {"method": "GET", "path": "/x", "output": "call-event.json"}, "poll.output"),
    ("dedupe-key", "dedupe_key", "event_id", "dedupe_key is not in its output"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("member", "value", "expected"),
    [case[1:] for case in BROKEN_TRIGGER],
    ids=[case[0] for case in BROKEN_TRIGGER],
)
def test_check_reports_broken_trigger(
    tmp_path: Path, member: str, value: object, expected: str
) -> None:
    """A broken copy of the trigger entry makes check() say what is wrong."""
    shutil.copytree(manifest.SCHEMA_DIR, tmp_path / "schemas")
    data = manifest.load_manifest()
    data["triggers"][0][member] = value
    (tmp_path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    problems = manifest.check(root=tmp_path)
    assert any(expected in problem for problem in problems), problems
