"""Answer assembly: merge order, string coercion, and which responder answers are ignored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connector.inbound.answer import (
    answer_errors,
    coerce_fields,
    merge,
    responder_fields,
    wire_answer,
)
from connector.manifest import schema_validator
from connector.validation import validate_create_phone_call

RULE = {
    "override_agent_id": "agent_sales",
    "override_agent_version": 5,
    "dynamic_variables": {"department": "sales", "greeting": "Hello"},
    "metadata": {"source": "rule", "rule": "r1"},
}
CONTACT = {
    "dynamic_variables": {"first_name": "Ada", "greeting": "Hi"},
    "metadata": {"source": "contact", "crm_id": "c-1"},
}
RESPONDER = {"dynamic_variables": {"greeting": "Welcome back"}, "metadata": {"source": "flow"}}


def test_later_layers_win_field_by_field() -> None:
    """Rule ← contact ← responder: later wins, names merged inside variables and metadata."""
    assert merge([RULE, CONTACT, RESPONDER]) == {
        "override_agent_id": "agent_sales",
        "override_agent_version": 5,
        "dynamic_variables": {
            "department": "sales",
            "greeting": "Welcome back",
            "first_name": "Ada",
        },
        "metadata": {"source": "flow", "rule": "r1", "crm_id": "c-1"},
    }


def test_a_later_agent_drops_an_earlier_version() -> None:
    """The layer that names the agent names its version: another agent's version is dropped."""
    merged = merge([RULE, {"override_agent_id": "agent_support"}])
    assert merged["override_agent_id"] == "agent_support"
    assert "override_agent_version" not in merged


def test_a_later_version_alone_keeps_the_agent() -> None:
    """A layer that sets only a version changes the version of the agent already chosen."""
    merged = merge([RULE, {"override_agent_version": 6}])
    assert (merged["override_agent_id"], merged["override_agent_version"]) == ("agent_sales", 6)


def test_merge_leaves_layers_unchanged() -> None:
    """Merging never changes the rule or contact it was given."""
    before = json.dumps([RULE, CONTACT])
    merge([RULE, CONTACT, RESPONDER])
    assert json.dumps([RULE, CONTACT]) == before


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, "3"), (2.5, "2.5"), (True, "true"), (False, "false"), (None, ""), ("Ada", "Ada")],
)
def test_dynamic_variables_coerced_like_outbound(value: object, expected: str) -> None:
    """Numbers, true/false and null become text, exactly as for Create Phone Call."""
    inbound = coerce_fields({"dynamic_variables": {"v": value}})["dynamic_variables"]["v"]
    outbound, _key = validate_create_phone_call(
        {
            "from_number": "+14157774444",
            "to_number": "+14155550142",
            "retell_llm_dynamic_variables": {"v": value},
        }
    )
    assert inbound == expected == outbound["retell_llm_dynamic_variables"]["v"]


def test_digits_only_version_text_becomes_a_number() -> None:
    """ "3" is version 3, not a tag named "3"; other text stays a tag."""
    assert coerce_fields({"override_agent_version": " 3 "}) == {"override_agent_version": 3}
    assert coerce_fields({"override_agent_version": "latest"}) == {
        "override_agent_version": "latest"
    }


@pytest.mark.parametrize(
    "fields",
    [
        {},
        RULE,
        merge([RULE, CONTACT, RESPONDER]),
        {"agent_override": {"retell_llm": {"begin_message": "Hi {{first_name}}"}}},
    ],
)
def test_valid_answers_match_the_published_schema(fields: dict[str, Any]) -> None:
    """An answer the checks accept is valid against schemas/inbound-answer.json."""
    assert answer_errors(fields) == []
    assert schema_validator("inbound-answer.json").is_valid(wire_answer(fields))


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"dynamic_variables": {"tags": ["a"]}}, "dynamic_variables.tags"),
        ({"override_agent_id": ""}, "override_agent_id"),
        ({"override_agent_version": -2}, "override_agent_version"),
        ({"metadata": "crm"}, "metadata"),
        ({"metadata": {"blob": "x" * 50_000}}, "metadata"),
        ({"agent": "agent_1"}, "agent"),
    ],
)
def test_answers_retell_would_reject(fields: dict[str, Any], path: str) -> None:
    """An answer Retell would reject is caught, naming the field."""
    assert [e.path for e in answer_errors(fields)] == [path]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", {}),
        (b"{}", {}),
        (b'{"call_inbound": {}}', {}),
        (b'{"call_inbound": {"dynamic_variables": {"n": 2}}}', {"dynamic_variables": {"n": "2"}}),
        (b'{"override_agent_id": "agent_2"}', {"override_agent_id": "agent_2"}),
    ],
)
def test_responder_answers_used(body: bytes, expected: dict[str, Any]) -> None:
    """Retell's own format and the bare fields are both read; empty means no changes."""
    assert responder_fields(body) == (expected, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>ok</html>", "the answer is not JSON"),
        (b"[1, 2]", "the answer is not a JSON object"),
        (b'{"call_inbound": "agent_2"}', "call_inbound is not a JSON object"),
        (b'{"call_inbound": {}, "status": "ok"}', "status is not a known field"),
        (
            b'{"dynamic_variables": {"slots": ["10:00"]}}',
            "dynamic_variables.slots must be text, a number or true/false",
        ),
        (b'{"agent_id": "agent_2"}', "agent_id is not a known field"),
    ],
)
def test_invalid_responder_answers_have_a_reason(body: bytes, reason: str) -> None:
    """An answer that cannot be used is ignored, with a reason a person can act on."""
    fields, why = responder_fields(body)
    assert fields is None and why is not None and why.startswith(reason)
