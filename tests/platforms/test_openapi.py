"""The OpenAPI export: valid per openapi-spec-validator, true to the Flask app's routes, served
at /openapi.json, and held to by the live app under schemathesis."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.platforms import export, load_source
from connector.platforms.openapi.document import UNDOCUMENTED_PREFIXES, document
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import TOKEN, make_settings

Doc = dict[str, Any]
AUTOMATIC = {"HEAD", "OPTIONS"}  # Flask adds these to every route; not part of the API
OPEN = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/manifest.json",
    "/schemas/{name}.json",
    "/openapi.json",
    "/v1/webhooks/retell",
    "/v1/webhooks/retell/inbound",
}


@pytest.fixture(scope="module")
def doc() -> Doc:
    return document(load_source("https://connector.example.com"))


def _operations(doc: Doc) -> Iterator[tuple[str, str, Doc]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(doc: Doc, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_export_writes_a_valid_openapi_document(tmp_path: Path) -> None:
    """`export openapi` writes one file that openapi-spec-validator accepts."""
    paths = export("openapi", tmp_path, source=load_source())
    assert paths == [tmp_path / "openapi.json"]
    exported = json.loads(paths[0].read_text(encoding="utf-8"))
    assert exported["openapi"].startswith("3.1.")
    validate(exported)


def _drop_description(doc: Doc) -> None:
    del doc["paths"]["/healthz"]["get"]["responses"]["200"]["description"]


def _dangling_ref(doc: Doc) -> None:
    doc["components"]["schemas"]["call"]["properties"]["latency"] = {"$ref": "#/components/x"}


def _undeclared_path_parameter(doc: Doc) -> None:
    del doc["paths"]["/v1/deliveries/{delivery_id}/retry"]["post"]["parameters"]


@pytest.mark.parametrize("breakage", [_drop_description, _dangling_ref, _undeclared_path_parameter])
def test_validator_rejects_a_broken_copy(doc: Doc, breakage: Callable[[Doc], None]) -> None:
    """A deliberately broken document fails validation, so a green validation means something."""
    broken = copy.deepcopy(doc)
    breakage(broken)
    with pytest.raises((OpenAPIValidationError, Unresolvable)):
        validate(broken)


def test_every_ref_is_local_and_resolves(doc: Doc) -> None:
    """Every $ref points inside the document (usable offline) and lands on something."""
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        assert _resolve(doc, ref) is not None, ref


def test_every_schema_file_is_a_component_without_id(doc: Doc) -> None:
    """Each schemas/*.json is embedded as a component, stripped of $id and $schema."""
    components = doc["components"]["schemas"]
    for file_name in load_source().schemas:
        component = components[file_name.removesuffix(".json")]
        assert "$id" not in component and "$schema" not in component
        assert "$defs" not in component


def _app_routes(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "{}", rule.rule)
        found |= {(method, path) for method in (rule.methods or set()) - AUTOMATIC}
    return found


def test_document_and_app_have_the_same_routes(app: Flask, doc: Doc) -> None:
    """Every Flask route (but static files and the web console's HTML pages) is documented with
    the same methods, and nothing else."""
    documented = {(m, re.sub(r"\{[^}]+\}", "{}", p)) for p, m, _ in _operations(doc)}
    api = {
        (method, path)
        for method, path in _app_routes(app)
        if not path.startswith(UNDOCUMENTED_PREFIXES)
    }
    assert documented == api


def test_only_the_console_is_left_out(app: Flask, doc: Doc) -> None:
    """What the document leaves out is the console's pages (HTML for people, cookie sessions and
    CSRF), which no API client calls; the document says so."""
    left_out = {p for _, p in _app_routes(app) if p.startswith(UNDOCUMENTED_PREFIXES)}
    endpoints = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/console")
    }
    assert all(endpoint.startswith("console.") for endpoint in endpoints)
    assert all(not path.startswith(UNDOCUMENTED_PREFIXES) for path in doc["paths"])
    if left_out:
        assert "/console/" in doc["info"]["description"]


def test_only_the_open_routes_skip_bearer_auth(doc: Doc) -> None:
    """The document's open routes are exactly DESIGN §2's; all others inherit bearer auth."""
    assert doc["security"] == [{"bearer": []}]
    open_paths = {p for p, _, op in _operations(doc) if op.get("security") == []}
    assert open_paths == OPEN


def test_protected_routes_answer_401_as_documented(app: Flask, doc: Doc) -> None:
    """Without a token every protected operation answers 401 problem+json, a documented status."""
    client = app.test_client()
    for path, method, operation in _operations(doc):
        if path in OPEN:
            continue
        response = client.open(re.sub(r"\{[^}]+\}", "x", path), method=method)
        assert response.status_code == 401, (method, path)
        assert response.mimetype == "application/problem+json"
        assert "401" in operation["responses"], (method, path)


def test_agent_versions_need_the_agent_id(doc: Doc) -> None:
    """The agent-version options route takes the required agent_id its manifest option names."""
    operation = doc["paths"]["/v1/options/agent-versions"]["get"]
    (param,) = [p for p in operation["parameters"] if p["in"] == "query"]
    assert (param["name"], param["required"], param["schema"]["type"]) == (
        "agent_id",
        True,
        "string",
    )
    assert {"404", "422"} <= set(operation["responses"])


def test_call_event_is_a_webhook_and_a_subscribe_callback(doc: Doc) -> None:
    """The forwarded event is described once and shared by `webhooks` and the callback."""
    item = "#/components/pathItems/call-event"
    subscribe = doc["paths"]["/v1/triggers/call-events/subscriptions"]["post"]
    assert doc["webhooks"]["call-event"] == {"$ref": item}
    assert subscribe["callbacks"]["call-event"] == {"{$request.body#/target_url}": {"$ref": item}}
    delivery = _resolve(doc, item)["post"]
    body = delivery["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/call-event"}
    headers = {p["name"] for p in delivery["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


@pytest.mark.parametrize(
    ("public_url", "base_url", "server"),
    [
        (None, "https://hooks.example.com", "https://hooks.example.com"),
        (None, "http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://retell.example.org/", "http://10.0.0.5", "https://retell.example.org"),
    ],
)
def test_served_document_names_the_reached_server(
    tmp_path: Path, public_url: str | None, base_url: str, server: str
) -> None:
    """GET /openapi.json is open and its server URL is where the caller reached the connector."""
    settings = make_settings(tmp_path, connector_public_url=public_url)
    client = create_app(settings, configure_logs=False).test_client()
    response = client.get("/openapi.json", base_url=base_url)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    served = response.get_json()
    assert served["servers"] == [{"url": server}]
    validate(served)


# --- schemathesis against the live app ------------------------------------------------------

# Bounded and repeatable: a fixed seed, no example database (no replays of earlier failures),
# 12 fuzzed examples per operation (25 doubled the suite's longest test, 105 s under xdist,
# and found nothing the coverage phase's deterministic cases and 12 random ones did not).
# Bearer auth comes through the document's own security scheme, so schemathesis also tries
# requests without it (and gets the documented 401).
# The coverage phase (boundary values, missing fields, other methods) stays on, except for the
# Retell webhook: its signature is checked before the body is read, so every body variant is
# the same 401, and the large call schema makes the coverage phase send ~2,000 of them (10 s).
FUZZ_CONFIG: dict[str, Any] = {
    "seed": 20240601,
    "generation": {"max-examples": 12, "database": "none"},
    "auth": {"openapi": {"bearer": {"bearer": TOKEN}}},
    "operations": [
        {"include-operation-id": "retell_webhook", "phases": {"coverage": {"enabled": False}}}
    ],
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_schema(tmp_path: Path) -> Iterator[BaseSchema]:
    """The document as the live connector serves it, in front of the Retell sandbox."""
    with SandboxServer(SandboxConfig.fast()) as sandbox:
        settings = make_settings(
            tmp_path, retell_api_key=sandbox.config.api_key, retell_base_url=sandbox.url
        )
        with LoopbackServer(create_app(settings, configure_logs=False)) as server:
            config = SchemathesisConfig.from_dict(FUZZ_CONFIG)
            yield schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)


# Schemathesis leaves out the operation that served the document unless a filter names it.
live = schemathesis.pytest.from_fixture("live_schema").include(path_regex="^/")


@pytest.mark.slow
@live.parametrize()
def test_live_app_keeps_to_its_document(case: Case[Any]) -> None:
    """No 5xx, and every status, content type, header and body is the documented one."""
    case.call_and_validate(checks=CHECKS)


def test_responder_is_a_callback_that_answers(doc: Doc) -> None:
    """A responder subscription gets the inbound-call event and answers it: both described,
    beside the delivered events, as webhooks and subscribe callbacks."""
    subscribe = doc["paths"]["/v1/triggers/call-events/subscriptions"]["post"]
    assert set(subscribe["callbacks"]) == {
        "call-event",
        "inbound-event",
        "queued-call-event",
        "responder",
    }
    responder = _resolve(doc, "#/components/pathItems/responder")["post"]
    body = responder["requestBody"]["content"]["application/json"]["schema"]
    answer = responder["responses"]["2XX"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/inbound-event"}
    assert answer == {"$ref": "#/components/schemas/inbound-responder.answer"}
    assert doc["webhooks"]["responder"] == {"$ref": "#/components/pathItems/responder"}
