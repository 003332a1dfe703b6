"""What each action offers for mapping, on every platform: Create Phone Call only the fields a
just-registered call can carry (schemas/created-call.json), Find Call and the trigger the full
call, and nowhere a web call's access token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector import manifest
from connector.platforms import load_source
from connector.platforms.make.app import app_files
from connector.platforms.n8n.nodes import Names
from connector.platforms.n8n.package import package_files
from connector.platforms.openapi.document import document
from connector.platforms.power_automate.connector import api_definition
from connector.platforms.source import ConnectorSource
from connector.platforms.zapier.app import app_definition
from connector.sandbox import SandboxConfig, SandboxServer
from tests.platforms.conftest import run_node

API_KEY = "sandbox-key"
# Fields of a full call that a call registered a moment ago never has.
LATER = ("transcript", "recording_url", "duration_ms", "start_timestamp", "call_analysis")


@pytest.fixture(scope="module")
def source() -> ConnectorSource:
    return load_source("https://connector.example.com")


@pytest.fixture(scope="module")
def created() -> list[str]:
    """The properties schemas/created-call.json declares, in order."""
    return list(manifest.load_schema("created-call")["properties"])


@pytest.fixture(scope="module")
def registered() -> Iterator[dict[str, Any]]:
    """What the sandbox (Retell's stand-in) answers to create-phone-call, every option given."""
    with SandboxServer(SandboxConfig.fast(api_key=API_KEY)) as sandbox:
        answer = httpx.post(
            f"{sandbox.url}/v2/create-phone-call",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={
                "from_number": "+14157774444",
                "to_number": "+14155550123",
                "metadata": {"lead_id": "L-1"},
                "retell_llm_dynamic_variables": {"name": "Ada"},
                "custom_sip_headers": {"X-Lead": "L-1"},
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        yield answer.json()


def test_create_outputs_are_what_create_returns(
    registered: dict[str, Any], created: list[str]
) -> None:
    """Every field Create Phone Call declares is filled in by a just-created call."""
    assert [key for key in created if key not in registered] == []
    assert manifest.schema_validator("created-call").is_valid(registered)


def test_create_declares_none_of_the_later_fields(created: list[str]) -> None:
    """Transcript, recording, duration, start time and analysis are not offered on create."""
    assert [key for key in LATER if key in created] == []


def test_manifest_points_each_action_at_what_it_returns(source: ConnectorSource) -> None:
    """Create answers a created call, Find Call the full call; the campaign actions the queued
    call; the caller-context actions the saved context or the deletion."""
    outputs = {a["key"]: a["output"] for a in source.manifest["actions"]}
    assert outputs == {
        "create_phone_call": "schemas/created-call.json",
        "get_call": "schemas/call.json",
        "queue_phone_call": "schemas/queued-call.json",
        "find_queued_call": "schemas/queued-call.json",
        "cancel_queued_call": "schemas/queued-call.json",
        "save_caller_context": "schemas/inbound-contact.json",
        "delete_caller_context": "schemas/inbound-contact.deleted.json",
    }


def _zapier_outputs(source: ConnectorSource, group: str, key: str) -> list[str]:
    operation = app_definition(source)[group][key]["operation"]
    return [f["key"] for f in operation["outputFields"]]


def test_zapier_create_outputs(source: ConnectorSource, created: list[str]) -> None:
    """Zapier's Create Phone Call maps only created-call fields (nested ones flattened)."""
    found = _zapier_outputs(source, "creates", "create_phone_call")
    assert found and all(key.split("__")[0] in created for key in found), found
    assert "telephony_identifier__twilio_call_sid" in found


def test_zapier_find_call_keeps_the_full_call(source: ConnectorSource) -> None:
    """Find Call still offers the transcript, recording and analysis."""
    found = _zapier_outputs(source, "searches", "find_call")
    assert {"transcript", "recording_url", "call_analysis__call_summary"} <= set(found)


def test_make_create_interface(source: ConnectorSource, created: list[str]) -> None:
    """Make's Create a Phone Call module outputs exactly the created-call fields."""
    files = app_files(source)
    interface = files["modules/create-phone-call/create-phone-call.interface.iml.json"]
    assert [field["name"] for field in interface] == created


def test_power_automate_create_response(source: ConnectorSource, created: list[str]) -> None:
    """Power Automate's CreatePhoneCall answers the CreatedCall definition, fields inlined."""
    definition = api_definition(source)
    response = definition["paths"]["/v1/actions/create-phone-call"]["post"]["responses"]["201"]
    assert response["schema"] == {"$ref": "#/definitions/CreatedCall"}
    properties = definition["definitions"]["CreatedCall"]["properties"]
    assert list(properties) == created
    assert properties["call_id"]["x-ms-summary"] == "Call ID"


def test_openapi_create_response(source: ConnectorSource) -> None:
    """The OpenAPI document describes create's 201 with the created-call schema."""
    operation = document(source)["paths"]["/v1/actions/create-phone-call"]["post"]
    schema = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/created-call"}


def _offered(source: ConnectorSource) -> Iterator[tuple[str, Any]]:
    """Every output field name each platform offers, by where it is offered."""
    zapier = app_definition(source)
    for group in ("triggers", "creates", "searches"):
        for key, op in zapier[group].items():
            for field in op["operation"].get("outputFields", []):
                yield f"zapier {key}", field["key"]
    for path, content in app_files(source).items():
        if path.endswith(".interface.iml.json"):
            yield from ((f"make {path}", name) for name in _names(content))
    for name, definition in api_definition(source)["definitions"].items():
        for key, prop in definition.get("properties", {}).items():
            if prop.get("x-ms-visibility") != "internal":
                yield f"power automate {name}", key


def _names(fields: list[dict[str, Any]]) -> Iterator[str]:
    for field in fields:
        yield field["name"]
        spec = field.get("spec")
        if isinstance(spec, list):
            yield from _names(spec)
        elif isinstance(spec, dict) and isinstance(spec.get("spec"), list):
            yield from _names(spec["spec"])


def test_access_token_is_never_offered(source: ConnectorSource) -> None:
    """No platform offers a web call's access token as an output field."""
    offered = list(_offered(source))
    assert offered
    assert [where for where, key in offered if key.split("__")[-1] == "access_token"] == []


SHAPE = """
const path = require('node:path');
const [dir, answer] = process.argv.slice(1);
const description = require(path.join(dir, 'node.js')).description;
const operations = description.properties.find((p) => p.name === 'operation').options;
const steps = operations.find((o) => o.value === 'createPhoneCall').routing.output.postReceive;
const response = { statusCode: 201, body: JSON.parse(answer) };
(async () => {
  let items = [{ json: response.body }];
  for (const step of steps) items = await step(items, response);
  console.log(JSON.stringify(items));
})();
"""


def test_n8n_create_output_drops_empty_and_hidden_fields(
    node_modules: Path, source: ConnectorSource, tmp_path: Path
) -> None:
    """n8n's Create Phone Call item keeps declared fields (null or not) and Retell's new ones,
    and drops empty undeclared fields and the access token."""
    names = Names.of(source.manifest)
    files = package_files(source)
    node = files[f"dist/nodes/{names.node_class}/{names.node_class}.node.js"]
    (tmp_path / "node.js").write_text(
        node + f"\nmodule.exports.description = new {names.node_class}().description;\n"
    )
    answer = {
        "call_id": "c1",
        "call_status": "registered",
        "agent_name": None,
        "transcript": None,
        "recording_url": None,
        "access_token": "secret-token",
        "new_retell_field": "kept",
    }
    (item,) = run_node(node_modules, SHAPE, str(tmp_path), json.dumps(answer))
    assert item["json"] == {
        "call_id": "c1",
        "call_status": "registered",
        "agent_name": None,
        "new_retell_field": "kept",
    }


@pytest.mark.parametrize(
    "key",
    [
        "queue_phone_call",
        "find_queued_call",
        "cancel_queued_call",
        "save_caller_context",
        "delete_caller_context",
    ],
)
def test_new_actions_offer_only_what_they_return(source: ConnectorSource, key: str) -> None:
    """Each campaign and caller-context action offers, on Zapier and Make, fields of its own
    output schema only (the queued call, the saved context, the deletion), never a call's."""
    (action,) = [a for a in source.manifest["actions"] if a["key"] == key]
    declared = set(source.schema(action["output"])["properties"])
    group = "searches" if action["kind"] == "search" else "creates"
    zapier = _zapier_outputs(source, group, key)  # find_queued_call is Zapier's name too
    assert zapier and {name.split("__")[0] for name in zapier} <= declared
    module = key.replace("_", "-")
    interface = app_files(source)[f"modules/{module}/{module}.interface.iml.json"]
    assert {field["name"] for field in interface} == declared
