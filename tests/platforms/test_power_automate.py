"""The Power Automate export: valid per Microsoft's published connector schemas (vendored),
per openapi-spec-validator (Swagger 2.0), per the webhook-trigger rules Power Automate applies,
and true to the manifest and schemas it is generated from.

The vendored schemas are JSONC, and the apiProperties schema names its URI with draft-04's
``id``; both are loaded as platforms.md §4.2 describes (comments stripped, ``id`` renamed,
any referenced-but-missing definition added as ``{}``). They are read from the repository
copy only.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from openapi_spec_validator import OpenAPIV2SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from connector.platforms import export, load_source
from connector.platforms.fields import input_fields
from connector.platforms.power_automate.connector import API_DEFINITION, API_PROPERTIES
from connector.samples import sample_events

Doc = dict[str, Any]
VENDOR = Path(__file__).parent / "vendor" / "powerplatformconnectors"
DATA = Path(__file__).parents[1] / "data"
BASE_URL = "https://connector.example.com"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head")
LEFTOVER_2020_12 = (
    "$defs",
    "$schema",
    "$id",
    "anyOf",
    "oneOf",
    "const",
    "if",
    "then",
    "else",
    "patternProperties",
    "propertyNames",
    "examples",
    "x-options",
    "x-messages",
    "x-field-type",
    "x-visibility",
)


def _strip_comments(text: str) -> str:
    """JSONC → JSON: drop ``//`` comments outside strings (the vendored files have some)."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            escaped = char == "\\" and not escaped
            in_string = not (char == '"' and not escaped)
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _local_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            yield ref.removeprefix("#/definitions/").split("/")[0]
        for value in node.values():
            yield from _local_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _local_refs(value)


@cache
def _vendored(name: str) -> Doc:
    schema: Doc = json.loads(_strip_comments((VENDOR / name).read_text(encoding="utf-8")))
    if "id" in schema and "$schema" in schema and "draft-07" in schema["$schema"]:
        schema["$id"] = schema.pop("id")
    definitions = schema.setdefault("definitions", {})
    for missing in set(_local_refs(schema)) - set(definitions):
        definitions[missing] = {}
    return schema


def _exported(base_url: str, directory: Path) -> tuple[Doc, Doc]:
    export("power-automate", directory, source=load_source(base_url))
    return (
        json.loads((directory / API_DEFINITION).read_text(encoding="utf-8")),
        json.loads((directory / API_PROPERTIES).read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Doc, Doc]:
    return _exported(BASE_URL, tmp_path_factory.mktemp("power-automate"))


@pytest.fixture
def api(artefacts: tuple[Doc, Doc]) -> Doc:
    return copy.deepcopy(artefacts[0])


@pytest.fixture
def props(artefacts: tuple[Doc, Doc]) -> Doc:
    return copy.deepcopy(artefacts[1])


# --- the validators: each returns its complaints, empty when the export passes ---------------


def schema_problems(api: Doc, props: Doc) -> list[str]:
    """Microsoft's JSON Schemas: apiDefinition (draft-04) and apiProperties (draft-07)."""
    found = [
        f"apiDefinition {list(e.absolute_path)}: {e.message[:200]}"
        for e in Draft4Validator(_vendored("apiDefinition.swagger.schema.json")).iter_errors(api)
    ]
    found += [
        f"apiProperties {list(e.absolute_path)}: {e.message[:200]}"
        for e in Draft7Validator(_vendored("paconn-apiProperties.schema.json")).iter_errors(props)
    ]
    return found


def spec_problems(api: Doc, props: Doc) -> list[str]:
    """openapi-spec-validator's Swagger 2.0 checks (structure, $refs, path parameters, ids)."""
    try:
        validate(api, cls=OpenAPIV2SpecValidator)
    except (OpenAPIValidationError, Unresolvable) as exc:
        return [str(exc).splitlines()[0][:300]]
    return []


def _operations(api: Doc) -> Iterator[tuple[str, str, Doc]]:
    for path, item in api["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _body_schema(operation: Doc) -> Doc:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "body":
            schema: Doc = parameter["schema"]
            return schema
    return {}


def _walk(node: Any) -> Iterator[Doc]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def trigger_problems(api: Doc, props: Doc) -> list[str]:
    """Power Automate's webhook-trigger contract: one notification URL property, a 201 with a
    Location header, the payload schema on the path item, and a DELETE to unsubscribe."""
    found = []
    for path, method, operation in _operations(api):
        if "x-ms-trigger" not in operation:
            continue
        name = operation.get("operationId", f"{method} {path}")
        urls = [n for n in _walk(_body_schema(operation)) if n.get("x-ms-notification-url")]
        if len(urls) != 1:
            found.append(f"{name}: {len(urls)} x-ms-notification-url properties, want 1")
        created = operation["responses"].get("201", {})
        if "Location" not in created.get("headers", {}):
            found.append(f"{name}: no 201 answer with a Location header")
        if "x-ms-notification-content" not in api["paths"][path]:
            found.append(f"{name}: no x-ms-notification-content on {path}")
        deletes = [p for p, m, _ in _operations(api) if m == "delete" and p.startswith(path + "/")]
        if not deletes:
            found.append(f"{name}: no DELETE operation under {path}")
    return found


def dynamic_values_problems(api: Doc, props: Doc) -> list[str]:
    """Every ``x-ms-dynamic-values`` names an operation that exists."""
    known = {op.get("operationId") for _, _, op in _operations(api)}
    return [
        f"x-ms-dynamic-values points at missing operation {node['operationId']!r}"
        for node in (n.get("x-ms-dynamic-values") for n in _walk(api))
        if isinstance(node, dict) and node.get("operationId") not in known
    ]


VALIDATORS: dict[str, Callable[[Doc, Doc], list[str]]] = {
    "vendored schemas": schema_problems,
    "openapi-spec-validator": spec_problems,
    "trigger contract": trigger_problems,
    "dynamic values": dynamic_values_problems,
}


# --- the export passes every validator --------------------------------------------------------


@pytest.mark.parametrize("validator", VALIDATORS)
def test_export_passes(validator: str, api: Doc, props: Doc) -> None:
    """The export passes each validator."""
    assert VALIDATORS[validator](api, props) == []


def test_vendored_schemas_are_valid_metaschema_instances() -> None:
    """The vendored schemas, as loaded, are valid draft-04 and draft-07 schemas."""
    Draft4Validator.check_schema(_vendored("apiDefinition.swagger.schema.json"))
    Draft7Validator.check_schema(_vendored("paconn-apiProperties.schema.json"))


# --- a broken export is rejected by each validator ---------------------------------------------


def _trigger(api: Doc) -> Doc:
    return next(op for _, _, op in _operations(api) if "x-ms-trigger" in op)


def _no_notification_url(api: Doc, props: Doc) -> None:
    del _body_schema(_trigger(api))["properties"]["target_url"]["x-ms-notification-url"]


def _no_location(api: Doc, props: Doc) -> None:
    del _trigger(api)["responses"]["201"]["headers"]


def _no_notification_content(api: Doc, props: Doc) -> None:
    for item in api["paths"].values():
        item.pop("x-ms-notification-content", None)


def _dangling_dynamic_values(api: Doc, props: Doc) -> None:
    for node in _walk(api):
        if "x-ms-dynamic-values" in node:
            node["x-ms-dynamic-values"]["operationId"] = "ListNothing"


def _unknown_trigger_kind(api: Doc, props: Doc) -> None:
    _trigger(api)["x-ms-trigger"] = "instant"


def _unknown_visibility(api: Doc, props: Doc) -> None:
    api["paths"]["/v1/options/agents"]["get"]["x-ms-visibility"] = "hidden"


def _unconverted_any_of(api: Doc, props: Doc) -> None:
    version = _body_schema(api["paths"]["/v1/actions/create-phone-call"]["post"])["properties"][
        "override_agent_version"
    ]
    version["anyOf"] = [{"type": "integer"}, {"type": "string"}]


def _no_brand_color(api: Doc, props: Doc) -> None:
    del props["properties"]["iconBrandColor"]


def _dangling_ref(api: Doc, props: Doc) -> None:
    api["paths"]["/v1/actions/get-call"]["get"]["responses"]["200"]["schema"] = {
        "$ref": "#/definitions/Nowhere"
    }


def _undeclared_path_parameter(api: Doc, props: Doc) -> None:
    for _, method, operation in _operations(api):
        if method == "delete":
            operation["parameters"] = []


def _duplicate_operation_id(api: Doc, props: Doc) -> None:
    api["paths"]["/v1/options/agents"]["get"]["operationId"] = "ListPhoneNumbers"


BREAKAGES = [
    ("trigger contract", _no_notification_url),
    ("trigger contract", _no_location),
    ("trigger contract", _no_notification_content),
    ("dynamic values", _dangling_dynamic_values),
    ("vendored schemas", _unknown_trigger_kind),
    ("vendored schemas", _unknown_visibility),
    ("vendored schemas", _unconverted_any_of),
    ("vendored schemas", _no_brand_color),
    ("openapi-spec-validator", _dangling_ref),
    ("openapi-spec-validator", _undeclared_path_parameter),
    ("openapi-spec-validator", _duplicate_operation_id),
]


@pytest.mark.parametrize(
    ("validator", "breakage"), BREAKAGES, ids=[b.__name__.strip("_") for _, b in BREAKAGES]
)
def test_broken_export_is_rejected(
    validator: str, breakage: Callable[[Doc, Doc], None], api: Doc, props: Doc
) -> None:
    """A deliberately broken export fails the validator that guards against that breakage."""
    breakage(api, props)
    assert VALIDATORS[validator](api, props) != []


# --- true to the manifest and the schemas -------------------------------------------------------


@pytest.mark.parametrize(
    ("operation_id", "method", "path", "visibility"),
    [
        ("CreatePhoneCall", "post", "/v1/actions/create-phone-call", "important"),
        ("GetCall", "get", "/v1/actions/get-call", "important"),
        ("QueuePhoneCall", "post", "/v1/actions/queue-phone-call", "important"),
        ("FindQueuedCall", "get", "/v1/actions/find-queued-call", "important"),
        ("CancelQueuedCall", "post", "/v1/actions/cancel-queued-call", "important"),
        ("SaveCallerContext", "put", "/v1/inbound/contacts/{phone_number}", "important"),
        ("DeleteCallerContext", "delete", "/v1/inbound/contacts/{phone_number}", "important"),
        ("ListPhoneNumbers", "get", "/v1/options/phone-numbers", "internal"),
        ("ListAgents", "get", "/v1/options/agents", "internal"),
        ("OnCallEvent", "post", "/v1/triggers/call-events/subscriptions", "important"),
        (
            "DeleteCallEventsSubscription",
            "delete",
            "/v1/triggers/call-events/subscriptions/{id}",
            "internal",
        ),
    ],
)
def test_operation_is_at_its_manifest_route(
    operation_id: str, method: str, path: str, visibility: str, api: Doc
) -> None:
    """Each operation sits at the route the manifest gives, with its visibility."""
    operation = api["paths"][path][method]
    assert (operation["operationId"], operation["x-ms-visibility"]) == (operation_id, visibility)
    assert operation["summary"] and operation["description"]


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/v1/actions/create-phone-call", "post", ["201"]),
        ("/v1/actions/queue-phone-call", "post", ["202"]),
        ("/v1/actions/cancel-queued-call", "post", ["200"]),
        ("/v1/inbound/contacts/{phone_number}", "put", ["200", "201"]),
        ("/v1/inbound/contacts/{phone_number}", "delete", ["200"]),
    ],
)
def test_each_success_status_has_the_output_schema(
    path: str, method: str, statuses: list[str], api: Doc
) -> None:
    """The statuses an action answers with are declared, so Power Automate reads the output
    (not the error schema) from a 202 or a 200."""
    responses = api["paths"][path][method]["responses"]
    assert sorted(k for k in responses if k != "default") == statuses
    assert all("schema" in responses[k] for k in statuses)


@pytest.mark.parametrize("method", ["put", "delete"])
def test_caller_number_is_a_path_parameter_not_a_body_field(method: str, api: Doc) -> None:
    """Save and Delete Caller Context take the number in the path, labelled and required; the
    body (of Save) holds the rest."""
    operation = api["paths"]["/v1/inbound/contacts/{phone_number}"][method]
    (number,) = [p for p in operation["parameters"] if p["in"] == "path"]
    assert (number["name"], number["required"], number["type"]) == ("phone_number", True, "string")
    assert number["x-ms-summary"] == "Caller phone number"
    bodies = [p["schema"] for p in operation["parameters"] if p["in"] == "body"]
    assert all("phone_number" not in b.get("properties", {}) for b in bodies)
    assert len(bodies) == (1 if method == "put" else 0)


@pytest.mark.parametrize(
    ("base_url", "host", "base_path", "scheme"),
    [
        ("https://connector.example.com", "connector.example.com", "/", "https"),
        ("https://connector.example.com/", "connector.example.com", "/", "https"),
        ("http://127.0.0.1:8080/retell", "127.0.0.1:8080", "/retell", "http"),
    ],
)
def test_host_comes_from_base_url(
    base_url: str, host: str, base_path: str, scheme: str, tmp_path: Path
) -> None:
    """host, basePath and schemes come from the source's base URL."""
    api, _ = _exported(base_url, tmp_path)
    assert (api["host"], api["basePath"], api["schemes"]) == (host, base_path, [scheme])


def test_auth_is_bearer_token_in_authorization_header(api: Doc, props: Doc) -> None:
    """The API key goes into Authorization, and the connection form asks for 'Bearer <token>'."""
    ((name, scheme),) = api["securityDefinitions"].items()
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    assert api["security"] == [{name: []}]
    parameter = props["properties"]["connectionParameters"][name]
    assert parameter["type"] == "securestring"
    assert "Bearer <token>" in parameter["uiDefinition"]["description"]


def _create_body(api: Doc) -> Doc:
    return _body_schema(api["paths"]["/v1/actions/create-phone-call"]["post"])


@pytest.mark.parametrize(
    "field",
    input_fields(load_source().schema("schemas/create-phone-call.input.json")),
    ids=lambda f: f.key,
)
def test_create_input_field_has_label_and_visibility(field: Any, api: Doc) -> None:
    """Every Create Phone Call input is in the body with its label and visibility."""
    body = _create_body(api)
    prop = body["properties"][field.key]
    expected = "important" if field.required else "advanced" if field.advanced else None
    assert (prop["x-ms-summary"], prop.get("x-ms-visibility")) == (field.label, expected)
    assert (field.key in body["required"]) == field.required


@pytest.mark.parametrize(
    ("operation", "field", "source"),
    [
        ("/v1/actions/create-phone-call", "from_number", "ListPhoneNumbers"),
        ("/v1/actions/create-phone-call", "override_agent_id", "ListAgents"),
        ("/v1/triggers/call-events/subscriptions", "agent_id", "ListAgents"),
    ],
)
def test_dropdown_fields_use_options_operations(
    operation: str, field: str, source: str, api: Doc
) -> None:
    """Fields with a dropdown source get dynamic values from the matching options operation."""
    prop = _body_schema(api["paths"][operation]["post"])["properties"][field]
    assert prop["x-ms-dynamic-values"] == {
        "operationId": source,
        "value-path": "value",
        "value-title": "label",
    }


def test_agent_version_dropdown_is_called_with_the_chosen_agent(api: Doc) -> None:
    """Agent version lists the versions of the Agent field's agent (a dependent dropdown)."""
    body = _body_schema(api["paths"]["/v1/actions/create-phone-call"]["post"])
    dynamic = body["properties"]["override_agent_version"]["x-ms-dynamic-values"]
    assert dynamic["operationId"] == "ListAgentVersions"
    assert dynamic["parameters"] == {"agent_id": {"parameter": "override_agent_id"}}
    assert "override_agent_id" in body["properties"]
    (query,) = api["paths"]["/v1/options/agent-versions"]["get"]["parameters"]
    assert (query["name"], query["in"], query["required"]) == ("agent_id", "query", True)


def test_notification_url_is_internal_target_url(api: Doc) -> None:
    """The callback URL slot is target_url, hidden from the user, and required."""
    body = _body_schema(_trigger(api))
    target = body["properties"]["target_url"]
    assert (target["x-ms-notification-url"], target["x-ms-visibility"]) == (True, "internal")
    assert "target_url" in body["required"]


def test_event_choices_carry_manifest_labels(api: Doc) -> None:
    """The events dropdown shows the manifest's event labels."""
    items = _body_schema(_trigger(api))["properties"]["events"]["items"]
    labels = {e["value"]: e["label"] for e in load_source().manifest["triggers"][0]["events"]}
    assert {v["value"]: v["displayName"] for v in items["x-ms-enum-values"]} == labels
    assert items["enum"] == list(labels)


def test_notification_content_is_the_call_event(api: Doc) -> None:
    """The trigger's payload schema is the forwarded call event."""
    content = api["paths"]["/v1/triggers/call-events/subscriptions"]["x-ms-notification-content"]
    assert content["schema"] == {"$ref": "#/definitions/CallEvent"}


def test_no_2020_12_keyword_is_left(api: Doc) -> None:
    """No construct Swagger 2.0 lacks survives the conversion."""
    leftovers = {key for node in _walk(api) for key in node if key in LEFTOVER_2020_12}
    # "properties" maps names to schemas, so a property literally named like a keyword is fine
    leftovers -= {k for node in _walk(api) for k in node.get("properties", {})}
    assert leftovers == set()
    assert not [n for n in _walk(api) if isinstance(n.get("type"), list)]


def test_every_ref_resolves(api: Doc) -> None:
    """Every $ref names a definition in the document."""
    refs = {n["$ref"] for n in _walk(api) if isinstance(n.get("$ref"), str)}
    assert refs and all(re.fullmatch(r"#/definitions/\w+", r) for r in refs)
    assert {r.removeprefix("#/definitions/") for r in refs} <= set(api["definitions"])


def _definition_validator(api: Doc, name: str) -> Draft4Validator:
    """A draft-04 validator for one definition that reads ``x-nullable`` as "or null"."""
    definitions = copy.deepcopy(api["definitions"])
    for node in _walk(definitions):
        if node.get("x-nullable") and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
    return Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": definitions})


def test_retell_example_call_fits_converted_call(api: Doc) -> None:
    """Retell's example call object is valid against the converted Call definition."""
    call = json.loads((DATA / "retell_example_call.json").read_text(encoding="utf-8"))
    assert [e.message for e in _definition_validator(api, "Call").iter_errors(call)] == []


@pytest.mark.parametrize(
    "event",
    sample_events(["call_started", "call_ended", "call_analyzed", "transfer_started"]),
    ids=lambda e: e["event"],
)
def test_sample_event_fits_converted_call_event(event: Doc, api: Doc) -> None:
    """The built-in sample events are valid against the converted CallEvent definition."""
    errors = _definition_validator(api, "CallEvent").iter_errors(event)
    assert [e.message for e in errors] == []


def test_tagged_union_is_flattened(api: Doc) -> None:
    """A transcript entry has the properties of every role's branch, as one object."""
    entry = api["definitions"]["CallTranscriptEntry"]["properties"]
    assert {"role", "content", "words", "tool_call_id", "arguments", "digit"} <= set(entry)


def test_pattern_properties_become_additional_properties(api: Doc) -> None:
    """flat's custom_analysis_data.<name> fields stay allowed as additional properties."""
    flat = api["definitions"]["CallEvent"]["properties"]["flat"]
    assert flat["additionalProperties"]["x-ms-summary"] == "Custom analysis data"
    assert "type" not in flat["additionalProperties"]  # text, number or yes/no


def test_export_writes_the_two_files(tmp_path: Path) -> None:
    """export() writes apiDefinition.swagger.json and apiProperties.json, and returns them."""
    written = export("power-automate", tmp_path, source=load_source(BASE_URL))
    assert sorted(p.name for p in written) == sorted([API_DEFINITION, API_PROPERTIES])


def test_trigger_does_not_offer_responder_fields(api: Doc) -> None:
    """The connector trigger's flow cannot answer an inbound call (Response needs the built-in
    HTTP trigger), so Mode and the answer time are not offered on its form."""
    properties = _body_schema(_trigger(api))["properties"]
    assert {"target_url", "events", "agent_id"} == set(properties)
