"""list-calls ``filter_criteria``: the keys and condition types the SDKs declare, tool_calls."""

from __future__ import annotations

import collections.abc
import typing
import uuid
from typing import Any, Union, get_args, get_origin, get_type_hints

import httpx
import pytest
from retell.types.call_list_params import FilterCriteria

from connector.sandbox import SandboxServer
from connector.sandbox.conversations import TOOL_LATENCY_MS
from connector.sandbox.filters import AGENT_FIELDS, KEYED, OPS, SCALAR, TOOL_CALL_FIELDS

CREATE = "/v2/create-phone-call"
OK = {"from_number": "+14157774444", "to_number": "+14155550123"}


def _members(annotation: Any) -> list[Any]:
    """The TypedDicts behind one annotation (a TypedDict, a Union of them, or an Iterable)."""
    origin = get_origin(annotation)
    if origin is Union:
        return [m for arg in get_args(annotation) for m in _members(arg)]
    if origin in (collections.abc.Iterable, typing.Iterable):
        return _members(get_args(annotation)[0])
    return [annotation]


def _kinds(annotation: Any) -> frozenset[str]:
    """The condition ``type`` values an SDK filter annotation allows."""
    return frozenset(get_args(get_type_hints(m)["type"])[0] for m in _members(annotation))


SDK = get_type_hints(FilterCriteria)


def test_sandbox_takes_exactly_the_sdk_filter_keys() -> None:
    """Every key the SDK declares is accepted, and no other."""
    assert set(SDK) == set(SCALAR) | set(KEYED) | {"agent", "tool_calls"}


@pytest.mark.parametrize("key", sorted(SCALAR))
def test_scalar_filter_takes_the_sdk_condition_types(key: str) -> None:
    """Each scalar key takes the condition types its SDK type allows."""
    assert SCALAR[key][1] == _kinds(SDK[key])


@pytest.mark.parametrize("key", sorted(KEYED))
def test_keyed_filter_takes_the_sdk_condition_types(key: str) -> None:
    """Each keyed list takes the condition types its SDK entry type allows."""
    assert KEYED[key][1] == _kinds(SDK[key])


def test_list_filters_take_the_sdk_fields() -> None:
    """agent and tool_calls entries have the SDK's fields, tool_calls' with its types."""
    (agent,) = _members(SDK["agent"])
    assert set(get_type_hints(agent)) == AGENT_FIELDS
    (tool_call,) = _members(SDK["tool_calls"])
    hints = get_type_hints(tool_call)
    assert set(hints) == set(TOOL_CALL_FIELDS)
    for field, kinds in TOOL_CALL_FIELDS.items():
        assert (hints[field] is str) if kinds is None else kinds == _kinds(hints[field])


def test_ops_are_the_sdk_ops_for_each_condition_type() -> None:
    """The ops of each condition type are those the SDK's filter types declare."""
    declared: dict[str, set[str]] = {}
    annotations = [*SDK.values(), *get_type_hints(_members(SDK["tool_calls"])[0]).values()]
    for member in (m for a in annotations for m in _members(a)):
        hints = get_type_hints(member)
        if "op" in hints:
            kind = get_args(hints["type"])[0]
            declared.setdefault(kind, set()).update(get_args(hints["op"]))
    assert {kind: set(ops) for kind, ops in OPS.items()} == declared


@pytest.fixture(scope="module")
def calls(server: SandboxServer, http: httpx.Client) -> dict[str, str]:
    """An answered call that books through a tool, and a declined one, in a fresh batch."""
    tag = uuid.uuid4().hex
    ids = {}
    for name, to_number in (("booked", "+14155550123"), ("declined", "+14155550005")):
        body = {**OK, "to_number": to_number, "metadata": {"batch": tag, "name": name}}
        ids[name] = str(http.post(CREATE, json=body).json()["call_id"])
    for call_id in ids.values():
        server.state.wait_for(call_id, "analyzed")
    return {"tag": tag, **ids}


def listed(http: httpx.Client, calls: dict[str, str], criteria: dict[str, Any]) -> list[str]:
    batch = [{"key": "batch", "type": "string", "op": "eq", "value": calls["tag"]}]
    body = {"filter_criteria": {"metadata": batch, **criteria}}
    response = http.post("/v3/list-calls", json=body)
    assert response.status_code == 200, response.text
    return [c["metadata"]["name"] for c in response.json()["items"]]


SUCCESS = {"type": "boolean", "op": "eq", "value": True}


@pytest.mark.parametrize(
    ("tool_calls", "expected"),
    [
        ([{"name": "book_appointment"}], ["booked"]),
        ([{"name": "transfer_call"}], []),
        ([{"type": "custom", "success": SUCCESS}], ["booked"]),
        ([{"success": {**SUCCESS, "value": False}}], []),
        (
            [{"latency_ms": {"type": "range", "op": "bt", "value": [0, TOOL_LATENCY_MS]}}],
            ["booked"],
        ),
        ([{"latency_ms": {"type": "number", "op": "gt", "value": TOOL_LATENCY_MS}}], []),
        ([{"name": "book_appointment"}, {"name": "transfer_call"}], []),
        ([{}], ["booked"]),
        ([], ["declined", "booked"]),
    ],
)
def test_tool_calls_filter(
    http: httpx.Client, calls: dict[str, str], tool_calls: list[Any], expected: list[str]
) -> None:
    """tool_calls keeps calls that made a tool call matching every field of each entry."""
    assert listed(http, calls, {"tool_calls": tool_calls}) == expected


def test_tool_calls_filter_works_through_the_sdk(
    server: SandboxServer, calls: dict[str, str]
) -> None:
    """The official SDK's tool_calls filter is accepted and applied."""
    from retell import Retell

    with Retell(api_key=server.config.api_key, base_url=server.url, max_retries=0) as sdk:
        page = sdk.call.list(
            filter_criteria={
                "call_id": {
                    "type": "enum",
                    "op": "in",
                    "value": [calls["booked"], calls["declined"]],
                },
                "tool_calls": [{"name": "book_appointment", "success": SUCCESS}],
            }
        )
    assert [c.call_id for c in page.items] == [calls["booked"]]


@pytest.mark.parametrize(
    "criteria",
    [
        {"tool_calls": {"name": "book_appointment"}},
        {"tool_calls": [{"name": 3}]},
        {"tool_calls": [{"tool": "book_appointment"}]},
        {"tool_calls": [{"success": True}]},
        {"tool_calls": [{"latency_ms": {"type": "string", "op": "eq", "value": "1"}}]},
        {"call_status": {"type": "string", "op": "eq", "value": "ended"}},
        {"to_number": {"type": "enum", "op": "in", "value": ["+14155550123"]}},
        {"duration_ms": {"type": "boolean", "op": "eq", "value": True}},
        {"in_voicemail": {"type": "present", "op": "pr"}},
        {"user_sentiment": {"type": "enum", "op": "in", "value": [1]}},
        {"agent": [{"agent_id": "a", "version": "1"}]},
        {"agent": [{"agent_id": "a", "tag": "prod"}]},
    ],
)
def test_filter_outside_the_sdk_types_is_400(http: httpx.Client, criteria: dict[str, Any]) -> None:
    """A key given a condition or shape its SDK type does not allow gets Retell's 400."""
    response = http.post("/v3/list-calls", json={"filter_criteria": criteria})
    assert response.status_code == 400 and response.json()["status"] == "error"
