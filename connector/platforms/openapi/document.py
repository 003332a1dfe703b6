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
from connector.platforms.schema import absolute_refs, form, path_names
from connector.platforms.source import ConnectorSource, load_source

__all__ = ["ROUTES", "Param", "Route", "component_name", "document", "export", "served_document"]

OPENAPI_VERSION = "3.1.0"
FILE_NAME = "openapi.json"
SCHEMAS = "#/components/schemas/"
SECURITY = "bearer"
CALLBACK_URL = "{$request.body#/target_url}"
RESPONDER = "responder"  # the path item of a responder's synchronous request
TAGS = (
    "auth",
    "actions",
    "options",
    "triggers",
    "deliveries",
    "campaigns",
    "inbound",
    "mcp",
    "service",
)
# The web console (/console/...) is HTML for people, signed in with a cookie session and CSRF
# tokens on its forms: not an API, so it is left out of this document (and its routes out of
# the route check). A generated client has nothing to call there.
UNDOCUMENTED_PREFIXES = ("/console/",)
_CONSOLE_NOTE = (
    " The web console under /console/ (HTML pages for people, signed in with a token into a"
    " cookie session) is not part of this API and is not described here."
)

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
    more_ok: tuple[int, ...] = ()  # other success statuses, with the same output
    errors_also: Schema | None = None  # another error body (MCP's JSON-RPC errors), as JSON
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
    406: "/mcp only: the Accept header allows neither application/json nor text/event-stream.",
    409: "A request with this idempotency key is still running (idempotency-in-flight), or the "
    "delivery cannot be replayed now (replay-conflict).",
    413: f"The body is over {_size(MAX_REQUEST_BYTES)} ({_size(MAX_WEBHOOK_BYTES)} for Retell "
    "webhooks), whether sent with Content-Length or chunked (payload-too-large).",
    415: "/mcp only: the body is not sent as application/json.",
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
_QUEUE_PAGE: Schema = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"$ref": "queued-call.json"}},
        "next_cursor": {
            "type": ["string", "null"],
            "description": "Pass as cursor for the next page; null on the last.",
        },
    },
}
_CAMPAIGNS: Schema = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "campaign.json"}}},
}
_QUEUED_ID = Param("queued_id", "path", {"type": "string"}, "The queued call's id (qc_…).", True)
_CAMPAIGN = Param("name", "path", {"type": "string"}, "The campaign's name.", True)
_RULE_ID = Param("rule_id", "path", {"type": "string"}, "The rule's id.", True)
_NUMBER = Param(
    "phone_number", "path", {"type": "string"}, "The caller's number in E.164 (+ URL-encoded).",
    True,
)  # fmt: skip
_INBOUND_WEBHOOK = (
    "Retell's inbound-call webhook: answered synchronously with the caller's agent, dynamic "
    "variables and metadata, from the inbound rules, saved caller context and responders "
    "(subscriptions with mode respond). x-retell-signature is checked before the body is read; "
    "Retell's retries of one call get the same answer."
)
_MCP = (
    "The connector's actions as Model Context Protocol tools over streamable HTTP (JSON-RPC "
    "2.0 messages; answers are JSON, or an event stream when the client accepts one). Each "
    "tool call runs the action's own route with this token, so validation, idempotency and "
    "tenancy are the API's. GET and DELETE are not offered (405), as MCP allows."
)
_JSON_RPC: Schema = {
    "description": "A JSON-RPC 2.0 request or notification (or a batch of them).",
    "type": ["object", "array"],
}
_MCP_ANSWER: Schema = {"description": "A JSON-RPC 2.0 response.", "type": "object"}
_MCP_ERROR: Schema = {
    "description": "A JSON-RPC 2.0 error answer from the MCP transport (a message it cannot "
    "read, an unknown session); the connector's own refusals (token, size, session id) are "
    "problem+json.",
    "type": "object",
    "required": ["jsonrpc", "error"],
    "properties": {"jsonrpc": {"const": "2.0"}, "error": {"type": "object"}},
}

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
    Route("POST", "/v1/actions/queue-phone-call", 202, AUTH + JSON_BODY + (409,) + STORE,
          ok_headers=("Idempotent-Replayed",)),
    Route("GET", "/v1/actions/find-queued-call", 200, (*AUTH, 404, 422, *STORE)),
    Route("POST", "/v1/actions/cancel-queued-call", 200, (*AUTH, *JSON_BODY, 404, 409, *STORE)),
    Route("PUT", "/v1/inbound/contacts/{phone_number}", 200, (*AUTH, *JSON_BODY, *STORE),
          more_ok=(201,)),
    Route("DELETE", "/v1/inbound/contacts/{phone_number}", 200, (*AUTH, 404, 422, *STORE)),
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
    Route("GET", "/v1/queue", 200, (*AUTH, 422, *STORE),
          operation_id="list_queue", summary="Queued calls, newest first", tag="campaigns",
          output=_QUEUE_PAGE,
          params=(Param("campaign", "query", {"type": "string"}, "Only this campaign's."),
                  Param("state", "query", {"$ref": "queued-call.json#/properties/state"},
                        "Only those in this state."),
                  Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200},
                        _LIMIT),
                  Param("cursor", "query", {"type": "string"},
                        "next_cursor of the previous page."))),
    Route("GET", "/v1/queue/{queued_id}", 200, (*AUTH, 404, *STORE),
          operation_id="get_queued_call", summary="One queued call", tag="campaigns",
          output="queued-call", params=(_QUEUED_ID,)),
    Route("DELETE", "/v1/queue/{queued_id}", 200, (*AUTH, 404, 409, *STORE),
          operation_id="delete_queued_call", summary="Cancel a queued call not dialled yet",
          tag="campaigns", output="queued-call", params=(_QUEUED_ID,)),
    Route("GET", "/v1/campaigns", 200, AUTH + STORE,
          operation_id="list_campaigns", summary="Campaigns: counts by state, dial rate, ETA",
          tag="campaigns", output=_CAMPAIGNS),
    Route("GET", "/v1/campaigns/{name}", 200, (*AUTH, 404, 422, *STORE),
          operation_id="get_campaign", summary="One campaign's progress", tag="campaigns",
          output="campaign", params=(_CAMPAIGN,)),
    Route("PATCH", "/v1/campaigns/{name}", 200, (*AUTH, *JSON_BODY, 404, *STORE),
          operation_id="update_campaign", summary="Set a campaign's calling hours",
          tag="campaigns", body="campaign.input", output="campaign", params=(_CAMPAIGN,)),
    Route("POST", "/v1/campaigns/{name}/pause", 200, (*AUTH, 404, 422, *STORE),
          operation_id="pause_campaign", summary="Pause a campaign (nothing more is dialled)",
          tag="campaigns", output="campaign", params=(_CAMPAIGN,)),
    Route("POST", "/v1/campaigns/{name}/resume", 200, (*AUTH, 404, 422, *STORE),
          operation_id="resume_campaign", summary="Resume a paused campaign", tag="campaigns",
          output="campaign", params=(_CAMPAIGN,)),
    Route("GET", "/v1/inbound/rules", 200, AUTH + STORE,
          operation_id="list_inbound_rules", summary="Inbound rules, in the order they are tried",
          tag="inbound", output="inbound-rule_list"),
    Route("POST", "/v1/inbound/rules", 201, AUTH + JSON_BODY + STORE,
          operation_id="create_inbound_rule", summary="Add an inbound rule", tag="inbound",
          body="inbound-rule.input", output="inbound-rule"),
    Route("GET", "/v1/inbound/rules/{rule_id}", 200, (*AUTH, 404, *STORE),
          operation_id="get_inbound_rule", summary="One inbound rule", tag="inbound",
          output="inbound-rule", params=(_RULE_ID,)),
    Route("PUT", "/v1/inbound/rules/{rule_id}", 200, (*AUTH, *JSON_BODY, 404, *STORE),
          operation_id="replace_inbound_rule", summary="Replace an inbound rule", tag="inbound",
          body="inbound-rule.input", output="inbound-rule", params=(_RULE_ID,)),
    Route("DELETE", "/v1/inbound/rules/{rule_id}", 200, (*AUTH, 404, *STORE),
          operation_id="delete_inbound_rule", summary="Delete an inbound rule", tag="inbound",
          output="inbound-rule_deleted", params=(_RULE_ID,)),
    Route("GET", "/v1/inbound/contacts", 200, (*AUTH, 422, *STORE),
          operation_id="list_caller_contexts", summary="Saved caller contexts, newest first",
          tag="inbound", output="inbound-contact_list",
          params=(Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000},
                        _LIMIT),)),
    Route("GET", "/v1/inbound/contacts/{phone_number}", 200, (*AUTH, 404, 422, *STORE),
          operation_id="get_caller_context", summary="The context saved for one caller",
          tag="inbound", output="inbound-contact", params=(_NUMBER,)),
    Route("POST", "/v1/webhooks/retell/inbound", 200, (400, 401, 413, 503),
          operation_id="retell_inbound_webhook", summary="Answer Retell's inbound-call webhook",
          tag="inbound", description=_INBOUND_WEBHOOK, open=True, body="inbound-request",
          output="inbound-answer",
          params=(Param("x-retell-signature", "header", {"type": "string"}, _SIGNATURE, True),)),
    Route("POST", "/mcp", 200, (400, 404, 406, 413, 415, 422, *AUTH),
          operation_id="mcp", summary="MCP tools (streamable HTTP)", tag="mcp",
          description=_MCP, body=_JSON_RPC, output=_MCP_ANSWER, more_ok=(202,),
          errors_also=_MCP_ERROR,
          params=(Param("Mcp-Session-Id", "header", {"type": "string"},
                        "The session id the initialize answer gave, if any."),)),
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
        in_path = path_names(action["path"])
        params: tuple[Param, ...] = tuple(
            Param(name, "path", prop, str(prop.get("description", "")), True)
            for name, prop in inputs.get("properties", {}).items()
            if name in in_path
        )
        body: str | Schema | None = component_name(action["input"])
        if action["method"] in ("GET", "DELETE"):
            rest = {**inputs, "properties": {
                k: v for k, v in inputs.get("properties", {}).items() if k not in in_path
            }}  # fmt: skip
            params, body = params + _query_params(rest), None
        elif in_path:
            body = _body_without(inputs, in_path, component_name(action["input"]))
        if "idempotency" in action:
            header = action["idempotency"]["header"]
            prop = form(source, action["input"])["properties"][action["idempotency"]["field"]]
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


def _body_without(inputs: Schema, names: list[str], here: str) -> Schema:
    """An action's input less the fields that travel in the path: the request body."""
    body = {k: v for k, v in inputs.items() if k not in ("$schema", "$id", "examples")}
    body["properties"] = {k: v for k, v in inputs.get("properties", {}).items() if k not in names}
    required = [r for r in inputs.get("required", []) if r not in names]
    body.pop("required", None)
    if required:
        body["required"] = required
    made: Schema = absolute_refs(body, f"{here}.json")
    return made


def _trigger_routes(trigger: dict[str, Any]) -> Iterator[Route]:
    key, events = trigger["key"], [event["value"] for event in trigger["events"]]
    names: Schema = {"type": "array", "items": {"enum": events}}
    filters = []
    for item in trigger["filters"]:
        schema = names if item["type"] == "array" else {"type": item["type"]}
        filters.append(Param(item["key"], "query", schema, item["description"], item["required"]))
    if any(item["key"] == "events" for item in trigger["filters"]):
        filters.append(Param("event", "query", names, "Same as events."))
    outputs = _event_outputs(trigger)
    item = component_name(trigger["output"])
    listing: Schema = {
        "type": "array",
        "items": {"anyOf": [{"$ref": f"{name}.json"} for name in outputs]}
        if len(outputs) > 1
        else {"$ref": f"{item}.json"},
    }
    subscribe, unsubscribe = trigger["subscribe"], trigger["unsubscribe"]
    yield Route(
        subscribe["method"], subscribe["path"], 0, operation_id=f"{key}_subscribe",
        summary=f"Subscribe: {trigger['label']}", description=trigger["description"],
        tag="triggers", body=component_name(subscribe["input"]),
        output=component_name(subscribe["output"]),
        callbacks=tuple(outputs) + ((RESPONDER,) if trigger.get("respond") else ()),
    )  # fmt: skip
    id_params = tuple(
        Param(name, "path", {"type": "string"}, "The subscription.", True)
        for name in path_names(unsubscribe["path"])
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
                more_ok=fact.more_ok,
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
    for status in route.more_ok:
        responses[str(status)] = {**success, "description": HTTPStatus(status).phrase}
    for status in sorted({*route.errors, *SERVER}):
        responses[str(status)] = {"$ref": f"#/components/responses/problem-{status}"}
        if route.errors_also is not None and status in route.errors and status not in AUTH:
            problem = {"schema": {"$ref": SCHEMAS + "problem"}}
            responses[str(status)] = {
                "description": PROBLEMS[status],
                "content": {
                    "application/problem+json": problem,
                    "application/json": {"schema": _ref(route.errors_also)},
                },
            }
    operation["responses"] = responses
    if route.callbacks:
        operation["callbacks"] = {
            name: {CALLBACK_URL: {"$ref": f"#/components/pathItems/{name}"}}
            for name in route.callbacks
        }
    return operation


def _event_outputs(trigger: dict[str, Any]) -> list[str]:
    """The component names of what a trigger delivers: its output, then the outputs of events
    that carry their own (connector events such as a queued call failing)."""
    found = [component_name(trigger["output"])]
    for event in trigger["events"]:
        name = component_name(event.get("output") or trigger["output"])
        if name not in found:
            found.append(name)
    return found


def _delivery(trigger: dict[str, Any], output: str) -> Schema:
    """The POST the connector sends to a subscription's target_url (a Path Item) with one
    kind of item: the trigger's output, or an event's own."""
    events = [
        e["label"]
        for e in trigger["events"]
        if component_name(e.get("output") or trigger["output"]) == output
    ]
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
            "operationId": f"{trigger['key']}_delivery"
            + ("" if output == component_name(trigger["output"]) else f"_{output}"),
            "summary": f"{trigger['label']}: {', '.join(events)}",
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


def _responder(trigger: dict[str, Any]) -> Schema:
    """The POST a responder subscription (the trigger's ``respond``) gets while an inbound call
    rings, and the answer the connector uses from it (a Path Item)."""
    respond = trigger["respond"]
    item = _delivery(trigger, component_name(respond["output"]))["post"]
    mode = respond["mode"]
    item.update(
        operationId=f"{trigger['key']}_responder",
        summary=f"{trigger['label']}: {respond['label']} (subscribed with "
        f"{mode['field']}={mode['value']})",
        description=respond["description"],
        responses={
            "2XX": {
                "description": "The answer: used for the call, field by field over the rules' "
                "and saved context's (an empty body keeps them).",
                "content": {
                    "application/json": {
                        "schema": {"$ref": SCHEMAS + component_name(respond["answer"])}
                    }
                },
            },
            "default": {
                "description": "Ignored, as is an answer that comes too late or is not valid: "
                "the call is answered without it, and the reason is in the delivery log. "
                "Nothing is retried."
            },
        },
    )
    return {"post": item}


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
    deliveries = {
        output: _delivery(t, output) for t in manifest["triggers"] for output in _event_outputs(t)
    }
    for trigger in manifest["triggers"]:
        if trigger.get("respond"):
            deliveries[RESPONDER] = _responder(trigger)
    auth = manifest["auth"]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{manifest['label']} connector",
            "version": manifest["version"],
            "description": manifest["description"] + _CONSOLE_NOTE,
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
