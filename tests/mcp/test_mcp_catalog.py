"""Tools generated from the manifest: names, schemas (the manifest's own), extras."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from connector import manifest
from connector.mcp.catalog import OPTION_TOOLS, TRIGGER_TOOLS, build_catalog
from connector.mcp.schemas import inline_refs
from tests.mcp.conftest import CORE_TOOLS, with_campaign_actions

BASE = manifest.SCHEMA_BASE_URI


def real_catalog() -> Any:
    return build_catalog(manifest.load_manifest(), manifest.load_schema)


def test_the_tools_are_the_actions_then_the_lists_then_recent_events() -> None:
    """Every manifest action is a tool, in order, then the dropdown lists and the poll."""
    document = manifest.load_manifest()
    expected = [a["key"] for a in document["actions"]]
    expected += [OPTION_TOOLS[o["key"]] for o in document["options"] if o["key"] in OPTION_TOOLS]
    expected += [TRIGGER_TOOLS[t["key"]] for t in document["triggers"] if t["key"] in TRIGGER_TOOLS]
    assert real_catalog().names == expected
    assert set(expected) >= CORE_TOOLS


def test_an_action_tool_schema_is_the_manifest_schema_itself() -> None:
    """Without refs, an action's input schema is returned exactly as schemas/ has it."""
    document = manifest.load_manifest()
    catalog = real_catalog()
    for action in document["actions"]:
        schema = manifest.load_schema(action["input"])
        if "$ref" not in json.dumps(schema):
            assert catalog.get(action["key"]).input_schema == schema  # type: ignore[union-attr]


def test_campaign_actions_become_tools_when_the_manifest_gains_them() -> None:
    """queue_phone_call, find_queued_call and cancel_queued_call appear with no code change,
    each with its own schema from schemas/, refs inlined."""
    catalog = build_catalog(with_campaign_actions(), manifest.load_schema)
    for name in ("queue_phone_call", "find_queued_call", "cancel_queued_call"):
        tool = catalog.get(name)
        assert tool is not None
        assert "$ref" not in json.dumps(tool.input_schema)
    queue = catalog.get("queue_phone_call")
    assert queue is not None and queue.idempotency_field == "idempotency_key"
    find = catalog.get("find_queued_call")
    assert find is not None
    assert find.input_schema == manifest.load_schema("find-queued-call.input.json")


def test_inlined_refs_are_what_the_refs_point_at() -> None:
    """Each inlined property is its ref's target, looked up independently."""
    schema = manifest.load_schema("queue-phone-call.input.json")
    inlined = inline_refs(schema, manifest.registry())
    resolver = manifest.registry().resolver(base_uri=schema["$id"])
    for name, prop in schema["properties"].items():
        if "$ref" in prop:
            assert inlined["properties"][name] == resolver.lookup(prop["$ref"]).contents
        else:
            assert inlined["properties"][name] == prop
    assert {k: v for k, v in inlined.items() if k != "properties"} == {
        k: v for k, v in schema.items() if k != "properties"
    }


def test_a_ref_with_siblings_keeps_them_beside_its_target() -> None:
    """A sibling keyword of a $ref still applies: the target joins it under allOf."""
    target = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE + "t.json",
        "type": "string",
    }
    registry = Registry().with_resource(BASE + "t.json", DRAFT202012.create_resource(target))
    schema = {"$id": BASE + "s.json", "properties": {"a": {"$ref": "t.json", "maxLength": 3}}}
    assert inline_refs(schema, registry)["properties"]["a"] == {
        "maxLength": 3,
        "allOf": [{"type": "string"}],
    }


def test_a_recursive_ref_is_refused() -> None:
    """A schema that refers to itself cannot be inlined: a clear error, not a hang."""
    schema = {"$id": BASE + "loop.json", "type": "object", "properties": {"child": {"$ref": "#"}}}
    registry = Registry().with_resource(BASE + "loop.json", DRAFT202012.create_resource(schema))
    with pytest.raises(ValueError, match="recursive"):
        inline_refs(schema, registry)


def test_recent_call_events_offers_the_trigger_filters_and_events() -> None:
    """Its schema is built from the trigger's own filters, the event names polling lists (not
    the connector events marked poll: false, which the poll endpoint refuses) and a limit."""
    trigger = manifest.load_manifest()["triggers"][0]
    tool = real_catalog().get("recent_call_events")
    assert tool is not None
    properties = tool.input_schema["properties"]
    assert set(properties) == {f["key"] for f in trigger["filters"]} | {"limit"}
    polled = [e["value"] for e in trigger["events"] if e.get("poll", True)]
    assert properties["events"]["items"]["enum"] == polled
    assert "queued_call.failed" not in polled
    assert properties["limit"]["maximum"] == 100


def test_two_tools_with_one_name_are_refused() -> None:
    """An action named like a generated tool would shadow it: refused with both names."""
    document = manifest.load_manifest()
    clash = copy.deepcopy(document["actions"][1])
    clash["key"] = "list_agents"
    document["actions"].append(clash)
    with pytest.raises(ValueError, match="list_agents"):
        build_catalog(document, manifest.load_schema)
