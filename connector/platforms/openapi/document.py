"""OpenAPI 3.1 of the connector's own HTTP API, for Swagger UI, Postman, code generators and
API fuzzers (DESIGN §2, §8).

Built from the manifest and schemas; ``ROUTES`` adds only what they do not say: each route's
success and error statuses, the parameters the manifest leaves out, and the service
endpoints it does not describe. Schemas are embedded under ``components/schemas`` with
their ``$defs`` hoisted to components of their own (``subscription.json#/$defs/list`` is
``subscription_list``) and every ``$ref`` rewritten to a local pointer, so the document is
self-contained: no ``$id`` resolution, no network. The forwarded call event is described
once, as a path item under ``webhooks`` that the subscribe operation's ``callbacks`` share.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any

from connector.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_LINE_BYTES,
    MAX_WEBHOOK_BYTES,
)
from connector.platforms.source import ConnectorSource, load_source

__all__ = ["ROUTES", "Param", "Route", "component_name", "document", "export", "served_document"]

OPENAPI_VERSION = "3.1.0"
FILE_NAME = "openapi.json"
SCHEMAS = "#/components/schemas/"
SECURITY = "bearer"
CALLBACK_URL = "{$request.body#/target_url}"
TAGS = ("auth", "actions", "options", "triggers", "deliveries", "service")

Schema = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter."""

    name: str
    where: str
    schema: Schema
    description: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One route of ``connector/api``. The manifest fills in the describing fields of the
    routes it knows (summary, input, output); the others carry them here."""

    method: str
    path: str
    ok: int
    errors: tuple[int, ...] = ()
    params: tuple[Param, ...] = ()
    ok_headers: tuple[str, ...] = ()
    operation_id: str = ""
    summary: str = ""
    description: str = ""
    tag: str = ""
    body: str | Schema | None = None  # a component name or an inline schema
    output: str | Schema | None = None
    media_type: str = "application/json"
    open: bool = False
    callbacks: tuple[str, ...] = ()


# Error statuses by cause, as connector/api and connector/problems.py produce them.
AUTH = (401,)
JSON_BODY = (400, 413, 422)  # not JSON; over MAX_REQUEST_BYTES; invalid fields
SERVER = (414, 431)  # any route: a request line or header over the server's limits
UPSTREAM = (402, 422, 429, 502, 504)  # upstream_problem() of a Retell error
STORE = (503,)  # the database is unavailable


def _size(limit: int) -> str:
    """``1048576`` → ``1 MiB``, ``262144`` → ``256 KiB``."""
    return f"{limit // 1024**2} MiB" if limit % 1024**2 == 0 else f"{limit // 1024} KiB"


# What each problem status means across routes: the problem ``type`` slugs behind it.
PROBLEMS: dict[int, str] = {
    400: "The body is not JSON (malformed-json, bad-request), or the request could not be read "
    "(bad-request).",
    401: "Missing or unknown bearer token (unauthenticated), or a bad webhook signature "
    "(invalid-signature).",
    402: "The Retell account needs payment (retell-payment-required).",
    404: "No such resource (not-found).",
    409: "A request with this idempotency key is still running (idempotency-in-flight), or the "
    "delivery cannot be replayed now (replay-conflict).",
    413: f"The body is over {_size(MAX_REQUEST_BYTES)} ({_size(MAX_WEBHOOK_BYTES)} for Retell "
    "webhooks), whether sent with Content-Length or chunked (payload-too-large).",
    414: f"The request line (method, path and query) is over {MAX_REQUEST_LINE_BYTES:,} bytes "
    "(uri-too-long).",
    422: "Invalid input, with one entry per field in errors (validation-error); an idempotency "
    "key reused with another body (idempotency-key-reused); or Retell refused the request "
    "(retell-rejected).",
    429: "Retell is rate limiting the account (retell-rate-limited); retry after Retry-After.",
    431: f"A header is over {MAX_HEADER_BYTES:,} bytes (name and value), or there are more than "
    f"{MAX_HEADERS} headers (header-too-large).",
    502: "Retell rejected the server's API key (retell-unauthorized), failed or could not be "
    "reached (retell-unavailable), or the call may or may not have been placed "
    "(call-outcome-unknown).",
    503: "The store is unavailable (store-unavailable) or the service is not ready (not-ready); "
    "retry.",
    504: "Retell did not answer in time (retell-timeout).",
}
PROBLEM_HEADERS: dict[int, tuple[str, ...]] = {
    401: ("WWW-Authenticate",),
    409: ("Retry-After",),
    429: ("Retry-After",),
    503: ("Retry-After",),
}
HEADERS: dict[str, Schema] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme expected (Bearer).",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer to an earlier request with the "
        "same idempotency key (no new call was placed).",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

_LIMIT = "How many items at most."
_SIGNATURE = "v=<unix ms>,d=<hex HMAC-SHA256 of the body followed by the ms>."
_WEBHOOK = (
    "Where Retell posts call events. x-retell-signature is checked (HMAC-SHA256 keyed with the "
    "server's Retell API key) before the body is parsed; bodies are limited to 256 KiB; 204 "
    "once the event and its deliveries are stored."
)
_RETELL_EVENT: Schema = {
    "type": "object",
    "required": ["event", "call"],
    "properties": {"event": {"type": "string", "minLength": 1}, "call": {"$ref": "call.json"}},
}
_HEALTH: Schema = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"const": "ok"}},
}
_READY: Schema = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {"status": {"const": "ready"}, "checks": {"type": "object"}},
}
_STATE: Schema = {"$ref": "delivery.json#/properties/state"}
_OPENAPI: Schema = {"type": "object", "required": ["openapi", "info", "paths"]}

# fmt: off
ROUTES: tuple[Route, ...] = (
    # Described by the manifest (auth test, actions, options, trigger) or by schemas/ (the
    # names /schemas/ serves): statuses and extras.
    Route("GET", "/v1/me", 200, AUTH + UPSTREAM),
    Route("POST", "/v1/actions/create-phone-call", 201,
          AUTH + JSON_BODY + (409,) + UPSTREAM + STORE, ok_headers=("Idempotent-Replayed",)),
    Route("GET", "/v1/actions/get-call", 200, (*AUTH, 404, 422, *UPSTREAM)),
    Route("GET", "/v1/options/phone-numbers", 200, AUTH + UPSTREAM),
    Route("GET", "/v1/options/agents", 200, AUTH + UPSTREAM),
    Route("GET", "/v1/options/agent-versions", 200, (*AUTH, 404, 422, *UPSTREAM)),
    Route("POST", "/v1/triggers/call-events/subscriptions", 201, AUTH + JSON_BODY + STORE),
    Route("DELETE", "/v1/triggers/call-events/subscriptions/{id}", 200, (*AUTH, 404, *STORE),
          output="subscription_deleted"),
    Route("GET", "/v1/triggers/call-events", 200, (*AUTH, 422, *UPSTREAM),
          params=(Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                        _LIMIT),)),
    Route("GET", "/v1/triggers/call-events/sample", 200, (*AUTH, 422, *STORE)),
    Route("GET", "/schemas/{name}.json", 200, (404,), open=True, output={"type": "object"}),
    # Not in the manifest: everything.
    Route("GET", "/v1/triggers/call-events/subscriptions", 200, AUTH + STORE,
          operation_id="call_events_list_subscriptions", summary="List subscriptions",
          tag="triggers", output="subscription_list"),
    Route("GET", "/v1/deliveries", 200, (*AUTH, 422, *STORE),
          operation_id="list_deliveries", summary="Delivery log", tag="deliveries",
          output="delivery_list",
          params=(Param("state", "query", _STATE, "Only these."),
                  Param("subscription_id", "query", {"type": "string"}, "Only these."),
                  Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500},
                        _LIMIT))),
    Route("POST", "/v1/deliveries/{delivery_id}/retry", 202, (*AUTH, 404, 409, *STORE),
          operation_id="retry_delivery", summary="Replay a delivery (same event id)",
          tag="deliveries", output="delivery",
          params=(Param("delivery_id", "path", {"type": "string"}, "The delivery.", True),)),
    Route("POST", "/v1/webhooks/retell", 204, (400, 401, 413, 503),
          operation_id="retell_webhook", summary="Receive a Retell webhook", tag="service",
          description=_WEBHOOK, open=True, body=_RETELL_EVENT,
          params=(Param("x-retell-signature", "header", {"type": "string"}, _SIGNATURE, True),)),
    Route("GET", "/healthz", 200, operation_id="healthz", summary="Liveness", tag="service",
          open=True, output=_HEALTH),
    Route("GET", "/readyz", 200, (503,), operation_id="readyz", tag="service", open=True,
          summary="Readiness: the store answers, the delivery worker runs", output=_READY),
    Route("GET", "/metrics", 200, operation_id="metrics", summary="Prometheus metrics",
          tag="service", open=True, media_type="text/plain", output={"type": "string"}),
    Route("GET", "/manifest.json", 200, operation_id="manifest", tag="service", open=True,
          summary="The manifest, base_url filled in", output="manifest.schema"),
    Route("GET", "/openapi.json", 200, operation_id="openapi", summary="This document",
          tag="service", open=True, output=_OPENAPI),
)
# fmt: on


def component_name(ref: str) -> str:
    """``schemas/call.json`` or ``call.json`` → ``call``."""
    return ref.rsplit("/", 1)[-1].removesuffix(".json")


def _pointer(ref: str, here: str) -> str:
    """A schema file's ``$ref`` as a pointer into ``components/schemas``. File names never
    hold ``_``, so ``<file>_<def>`` cannot collide with another file's component."""
    target, _, fragment = ref.partition("#")
    name = component_name(target) if target else here
    head, _, rest = fragment.removeprefix("/$defs/").partition("/")
    if fragment.startswith("/$defs/"):
        return f"{SCHEMAS}{name}_{head}" + (f"/{rest}" if rest else "")
    return f"{SCHEMAS}{name}{fragment.rstrip('/')}"


def _rewrite(node: Any, here: str) -> Any:
    if isinstance(node, dict):
        return {
            key: _pointer(value, here)
            if key == "$ref" and isinstance(value, str)
            else _rewrite(value, here)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item, here) for item in node]
    return node


def _components(schemas: dict[str, Schema]) -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for file_name, raw in sorted(schemas.items()):
        name = component_name(file_name)
        schema = {k: v for k, v in raw.items() if k not in ("$schema", "$id")}
        defs = schema.pop("$defs", {})
        out[name] = _rewrite(schema, name)
        for def_name, sub in defs.items():
            out[f"{name}_{def_name}"] = _rewrite(sub, name)
    return out


def _ref(target: str | Schema) -> Schema:
    """A component name becomes a ``$ref``; an inline schema gets its names resolved too."""
    if isinstance(target, str):
        return {"$ref": SCHEMAS + target}
    rewritten: Schema = _rewrite(target, "")
    return rewritten


def _query_params(schema: Schema) -> tuple[Param, ...]:
    required = set(schema.get("required", []))
    return tuple(
        Param(key, "query", prop, str(prop.get("description", "")), key in required)
        for key, prop in schema.get("properties", {}).items()
    )


def _described(source: ConnectorSource) -> Iterator[Route]:
    """What the manifest and schemas/ say about routes, as partial routes (statuses left 0)."""
    manifest = source.manifest
    test = manifest["auth"]["test"]
    yield Route(
        test["method"], test["path"], 0, operation_id="test_connection",
        summary="Test the connection", description=manifest["auth"]["description"], tag="auth",
        output=component_name(test["output"]),
    )  # fmt: skip
    for action in manifest["actions"]:
        inputs = source.schema(action["input"])
        params: tuple[Param, ...] = ()
        body: str | None = component_name(action["input"])
        if action["method"] == "GET":
            params, body = _query_params(inputs), None
        if "idempotency" in action:
            header = action["idempotency"]["header"]
            prop = inputs["properties"][action["idempotency"]["field"]]
            params += (Param(header, "header", prop, str(prop.get("description", ""))),)
        yield Route(
            action["method"], action["path"], 0, params=params, operation_id=action["key"],
            summary=action["label"], description=action["description"], tag="actions",
            body=body, output=component_name(action["output"]),
        )  # fmt: skip
    for option in manifest["options"]:
        needs = tuple(
            Param(p["name"], "query", {"type": "string", "minLength": 1},
                  str(p.get("description", "")), True)
            for p in option.get("parameters", [])
        )  # fmt: skip
        yield Route(
            option["method"], option["path"], 0, params=needs,
            operation_id=f"options_{option['key']}", summary=option["label"],
            description=option["description"], tag="options",
            output=component_name(option["output"]),
        )  # fmt: skip
    for trigger in manifest["triggers"]:
        yield from _trigger_routes(trigger)
    names: Schema = {"type": "string", "enum": sorted(map(component_name, source.schemas))}
    yield Route(
        "GET", "/schemas/{name}.json", 0, operation_id="schema", summary="One schema file",
        tag="service", params=(Param("name", "path", names, "Its file name without .json.", True),),
    )  # fmt: skip


def _trigger_routes(trigger: dict[str, Any]) -> Iterator[Route]:
    key, events = trigger["key"], [event["value"] for event in trigger["events"]]
    names: Schema = {"type": "array", "items": {"enum": events}}
    filters = []
    for item in trigger["filters"]:
        schema = names if item["type"] == "array" else {"type": item["type"]}
        filters.append(Param(item["key"], "query", schema, item["description"], item["required"]))
    if any(item["key"] == "events" for item in trigger["filters"]):
        filters.append(Param("event", "query", names, "Same as events."))
    item = component_name(trigger["output"])
    listing: Schema = {"type": "array", "items": {"$ref": f"{item}.json"}}
    subscribe, unsubscribe = trigger["subscribe"], trigger["unsubscribe"]
    yield Route(
        subscribe["method"], subscribe["path"], 0, operation_id=f"{key}_subscribe",
        summary=f"Subscribe: {trigger['label']}", description=trigger["description"],
        tag="triggers", body=component_name(subscribe["input"]),
        output=component_name(subscribe["output"]), callbacks=(item,),
    )  # fmt: skip
    id_params = tuple(
        Param(name, "path", {"type": "string"}, "The subscription.", True)
        for name in _path_names(unsubscribe["path"])
    )
    yield Route(
        unsubscribe["method"], unsubscribe["path"], 0, params=id_params,
        operation_id=f"{key}_unsubscribe", summary=f"Unsubscribe: {trigger['label']}",
        tag="triggers",
    )  # fmt: skip
    for kind, label in (("poll", "Poll"), ("sample", "Sample")):
        endpoint = trigger[kind]
        yield Route(
            endpoint["method"], endpoint["path"], 0, params=tuple(filters),
            operation_id=f"{key}_{kind}", summary=f"{label}: {trigger['label']}",
            tag="triggers", output=listing,
        )  # fmt: skip


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def routes(source: ConnectorSource) -> list[Route]:
    """Every route: the manifest's, completed by ``ROUTES``, then the rest of ``ROUTES``."""
    facts = {(r.method, r.path): r for r in ROUTES}
    merged = []
    for described in _described(source):
        fact = facts.pop((described.method, described.path), None)
        if fact is None:
            raise ValueError(f"{described.method} {described.path}: not in openapi.ROUTES")
        merged.append(
            replace(
                described,
                ok=fact.ok,
                errors=fact.errors,
                params=described.params + fact.params,
                ok_headers=fact.ok_headers,
                output=fact.output or described.output,
                open=fact.open,
            )
        )
    for rest in facts.values():
        if not (rest.operation_id and rest.summary):
            raise ValueError(f"{rest.method} {rest.path}: the manifest does not describe it")
    return merged + list(facts.values())


def _parameter(param: Param) -> Schema:
    return {
        "name": param.name,
        "in": param.where,
        "description": param.description,
        "required": param.required,
        "schema": _ref(param.schema),
    }


def _operation(route: Route) -> Schema:
    operation: Schema = {"operationId": route.operation_id, "summary": route.summary}
    if route.description:
        operation["description"] = route.description
    operation["tags"] = [route.tag]
    if route.open:
        operation["security"] = []
    if route.params:
        operation["parameters"] = [_parameter(p) for p in route.params]
    if route.body is not None:
        content = {"application/json": {"schema": _ref(route.body)}}
        operation["requestBody"] = {"required": True, "content": content}
    success: Schema = {"description": HTTPStatus(route.ok).phrase}
    if route.output is not None:
        success["content"] = {route.media_type: {"schema": _ref(route.output)}}
    if route.ok_headers:
        success["headers"] = {
            name: {"$ref": f"#/components/headers/{name}"} for name in route.ok_headers
        }
    responses: Schema = {str(route.ok): success}
    for status in sorted({*route.errors, *SERVER}):
        responses[str(status)] = {"$ref": f"#/components/responses/problem-{status}"}
    operation["responses"] = responses
    if route.callbacks:
        operation["callbacks"] = {
            name: {CALLBACK_URL: {"$ref": f"#/components/pathItems/{name}"}}
            for name in route.callbacks
        }
    return operation


def _delivery(trigger: dict[str, Any]) -> Schema:
    """The POST the connector sends to a subscription's target_url (a Path Item)."""
    output = component_name(trigger["output"])
    header_text = {
        "id": "The event id (equal to the body's id): the same on every retry and replay.",
        "timestamp": "When this attempt was signed, in Unix seconds.",
        "signature": "v1,<base64 HMAC-SHA256 of id.timestamp.body>, keyed with the "
        "subscription's secret (Standard Webhooks).",
    }
    headers = [
        Param(name, "header", {"type": "string"}, header_text[role], True)
        for role, name in trigger["signing"]["headers"].items()
    ]
    return {
        "post": {
            "operationId": f"{trigger['key']}_delivery",
            "summary": trigger["label"],
            "description": trigger["description"],
            "tags": ["triggers"],
            "security": [],
            "parameters": [_parameter(p) for p in headers],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": SCHEMAS + output}}},
            },
            "responses": {
                "2XX": {"description": "Delivered; the event will not be sent again."},
                "410": {"description": "Gone: the connector deletes the subscription."},
                "default": {
                    "description": "Not delivered: retried with exponential backoff "
                    "(Retry-After honoured), then kept as a dead letter."
                },
            },
        }
    }


def _problem(text: str, media_type: str, schema: str, headers: tuple[str, ...]) -> Schema:
    response: Schema = {"description": text, "content": {media_type: {"schema": {"$ref": schema}}}}
    if headers:
        response["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return response


def document(source: ConnectorSource) -> Schema:
    """The OpenAPI 3.1 document of the connector at ``source.base_url``."""
    manifest = source.manifest
    paths: Schema = {}
    for route in routes(source):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    errors = manifest["errors"]
    problem = SCHEMAS + component_name(errors["schema"])
    responses = {
        f"problem-{status}": _problem(
            text, errors["media_type"], problem, PROBLEM_HEADERS.get(status, ())
        )
        for status, text in PROBLEMS.items()
    }
    deliveries = {component_name(t["output"]): _delivery(t) for t in manifest["triggers"]}
    auth = manifest["auth"]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{manifest['label']} connector",
            "version": manifest["version"],
            "description": manifest["description"],
        },
        "servers": [{"url": source.base_url}],
        "security": [{SECURITY: []}],
        "tags": [{"name": name} for name in TAGS],
        "paths": paths,
        "webhooks": {name: {"$ref": f"#/components/pathItems/{name}"} for name in deliveries},
        "components": {
            "schemas": _components(source.schemas),
            "responses": responses,
            "headers": copy.deepcopy(HEADERS),
            "securitySchemes": {
                SECURITY: {
                    "type": "http",
                    "scheme": auth["type"],
                    "description": f"{auth['label']}: {auth['description']}",
                }
            },
            "pathItems": deliveries,
        },
    }


@functools.lru_cache(maxsize=8)
def served_document(base_url: str) -> str:
    """The document as JSON text for ``GET /openapi.json``, built once per base URL."""
    return json.dumps(document(load_source(base_url)), ensure_ascii=False)


def export(source: ConnectorSource, out: Path) -> list[Path]:
    """Write ``out/openapi.json``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAME
    path.write_text(json.dumps(document(source), indent=2, ensure_ascii=False) + "\n", "utf-8")
    return [path]
