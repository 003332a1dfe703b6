"""The published schemas: valid 2020-12, and call.json tolerant of what Retell sends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connector import manifest

DATA = Path(__file__).parent / "data"


def example_call() -> dict[str, Any]:
    """The example call object from Retell's create-phone-call reference page."""
    return json.loads((DATA / "retell_example_call.json").read_text(encoding="utf-8"))


def errors(schema: str, instance: object) -> list[str]:
    """Validation messages of ``instance`` against a schema, offline through the registry."""
    return [e.message for e in manifest.schema_validator(schema).iter_errors(instance)]


@pytest.mark.parametrize("name", manifest.schema_names())
def test_schema_is_valid_2020_12(name: str) -> None:
    """Every schema file passes the 2020-12 metaschema."""
    Draft202012Validator.check_schema(manifest.load_schema(name))


@pytest.mark.parametrize("name", manifest.schema_names())
def test_schema_id_is_base_plus_file_name(name: str) -> None:
    """Each $id is the base URI plus the file name, so refs between files are file names."""
    assert manifest.load_schema(name)["$id"] == manifest.SCHEMA_BASE_URI + name


@pytest.mark.parametrize("name", manifest.schema_names())
def test_schema_examples_validate(name: str) -> None:
    """Top-level examples in a schema are valid against it."""
    for example in manifest.load_schema(name).get("examples", []):
        assert errors(name, example) == []


def test_retell_example_call_validates() -> None:
    """The example call object from Retell's reference page is a valid call."""
    assert errors("call", example_call()) == []


def test_unknown_field_and_new_disconnection_reason_validate() -> None:
    """Fields and enum values Retell adds later do not break validation."""
    call = example_call()
    call["brand_new_field"] = {"anything": [1, 2, 3]}
    call["disconnection_reason"] = "reason_invented_next_year"
    call["call_status"] = "some_new_status"
    call["call_analysis"]["new_metric"] = 0.5
    call["latency"]["new_stage"] = {"p50": 1}
    assert errors("call", call) == []


@pytest.mark.parametrize("missing", ["call_id", "call_type", "agent_id", "call_status"])
def test_call_missing_required_field_fails(missing: str) -> None:
    """A call without one of the four required fields is invalid."""
    call = example_call()
    del call[missing]
    assert errors("call", call) == [f"{missing!r} is a required property"]


def test_web_call_validates() -> None:
    """A web call (access_token, no phone fields) is a valid call."""
    call = {
        "call_id": "c1",
        "call_type": "web_call",
        "agent_id": "a1",
        "agent_version": 0,
        "call_status": "ongoing",
        "access_token": "tok",
    }
    assert errors("call", call) == []


def test_transcript_with_tool_calls_union_validates() -> None:
    """Every documented entry of transcript_with_tool_calls, and an unknown role, validate."""
    call = example_call()
    call["transcript_with_tool_calls"] = [
        {"role": "agent", "content": "hi", "words": [{"word": "hi", "start": 0.1, "end": 0.3}]},
        {"role": "tool_call_invocation", "tool_call_id": "t1", "name": "book", "arguments": "{}"},
        {"role": "tool_call_result", "tool_call_id": "t1", "content": "ok", "successful": True},
        {
            "role": "node_transition",
            "former_node_id": "n1",
            "former_node_name": "Start",
            "new_node_id": "n2",
            "new_node_name": "Book",
            "transition_type": "normal",
        },
        {"role": "dtmf", "digit": "5"},
        {"role": "sms", "content": "see you", "time_sec": 12.5, "multimedia": [{"url": "u"}]},
        {"role": "injected", "content": "note", "time_sec": 3},
        {"role": "future_role", "whatever": 1},
    ]
    assert errors("call", call) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["transcript_with_tool_calls", 0, "content"], 42),
        (["transcript_with_tool_calls", 0], {"content": "no role"}),
        (["call_cost", "combined_cost"], "seventy"),
        (["llm_token_usage", "values"], "123"),
        (["latency", "e2e", "p50"], "fast"),
        (["call_analysis", "call_successful"], "yes"),
        (["start_timestamp"], "yesterday"),
    ],
)
def test_call_with_wrong_nested_type_fails(path: list[Any], value: object) -> None:
    """Known fields keep their types even though the schema is open."""
    call = example_call()
    node = call
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert errors("call", call) != []


def test_dtmf_entry_with_wrong_digit_type_fails() -> None:
    """The role discriminator applies the matching entry shape."""
    call = copy.deepcopy(example_call())
    call["transcript_with_tool_calls"] = [{"role": "dtmf", "digit": 5}]
    assert errors("call", call) != []


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        ("problem", {"type": "about:blank", "title": "T", "status": 404, "detail": "d"}, True),
        ("problem", {"type": "t", "title": "T", "status": 429, "detail": "d", "retry": 1}, True),
        (
            "problem",
            {"type": "t", "title": "T", "status": 422, "detail": "d", "errors": [{}]},
            False,
        ),
        ("problem", {"title": "T", "status": 404, "detail": "d"}, False),
        ("options", [{"value": "+14157774444", "label": "Sales"}], True),
        ("options", [], True),
        ("options", [{"value": "x"}], False),
        ("options", {"value": "x", "label": "y"}, False),
        ("me", {"label": "Acme", "mode": "sandbox"}, True),
        ("me", {"label": "Acme", "mode": "live", "org_name": None, "api_key_name": "k"}, True),
        ("me", {"label": "Acme", "mode": "test"}, False),
        ("get-call.input", {"call_id": "c1"}, True),
        ("get-call.input", {"call_id": ""}, False),
        ("subscription.input", {"target_url": "https://h.example/", "agent_id": "a" * 128}, True),
        ("subscription.input", {"target_url": "https://h.example/", "agent_id": "a" * 129}, False),
    ],
)
def test_small_schemas(schema: str, instance: object, valid: bool) -> None:
    """problem, options, me, get-call and subscription input accept and reject what they should."""
    assert (errors(schema, instance) == []) is valid


def test_problem_schema_matches_rendered_problems() -> None:
    """A problem as connector/problems.py renders it validates against problem.json."""
    from connector.problems import FieldError, ValidationFailed

    problem = ValidationFailed("bad", errors=[FieldError("to_number", "is required")], extra=1)
    assert errors("problem", problem.to_dict()) == []


def test_every_input_property_is_documented() -> None:
    """Each input property has a title, a description and examples for the form."""
    for name in ("create-phone-call.input", "get-call.input", "subscription.input"):
        for key, prop in manifest.load_schema(name)["properties"].items():
            assert prop.get("title") and prop.get("description") and prop.get("examples"), key
