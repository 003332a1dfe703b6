"""Power Automate custom connector: ``apiDefinition.swagger.json`` + ``apiProperties.json``.

Built from the manifest and schemas only (platforms.md §4). Decisions:

* **Auth.** Power Platform's API-key security puts the connection's ``api_key`` parameter
  verbatim into one header, so the header is ``Authorization`` and the connection form asks
  for ``Bearer <token>``; no policy template is needed and nothing is hidden from the user.
* **Operations.** Each manifest action and dropdown source becomes an operation whose id is
  the PascalCase key (``CreatePhoneCall``, ``ListAgents``); dropdown operations are
  ``internal`` and feed ``x-ms-dynamic-values``.
* **Webhook trigger.** The subscribe operation is the trigger (``x-ms-trigger: single``);
  its ``target_url`` carries ``x-ms-notification-url`` and is ``internal`` (the platform fills
  it in); the payload schema is ``x-ms-notification-content`` on the path item. Power Automate
  unsubscribes by sending ``DELETE`` to the ``Location`` header of the 201 answer, so that
  header is declared and the DELETE operation is listed as ``internal``.
* **Schemas.** Converted from 2020-12 by ``swagger.py`` (see its docstring).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.platforms.fields import responder_fields
from connector.platforms.power_automate.swagger import SwaggerSchemas
from connector.platforms.schema import pascal, path_names
from connector.platforms.source import ConnectorSource

__all__ = ["API_DEFINITION", "API_PROPERTIES", "api_definition", "api_properties", "export"]

API_DEFINITION = "apiDefinition.swagger.json"
API_PROPERTIES = "apiProperties.json"
ICON_BRAND_COLOR = "#007ee5"  # Power Platform's default custom-connector colour
SECURITY = "api_key"  # the connection parameter name Power Platform uses for API-key auth
_BODY_METHODS = frozenset({"post", "put", "patch"})
_QUERY_KEYS = frozenset(
    {
        "type",
        "format",
        "default",
        "enum",
        "items",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "description",
        "x-ms-summary",
        "x-ms-visibility",
        "x-ms-dynamic-values",
    }
)


def export(source: ConnectorSource, out: Path) -> list[Path]:
    """Write the two files ``paconn create`` (or the custom connector wizard) imports."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in (
        (API_DEFINITION, api_definition(source)),
        (API_PROPERTIES, api_properties(source)),
    ):
        path = out / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


def api_definition(source: ConnectorSource) -> dict[str, Any]:
    """The OpenAPI 2.0 document with Power Platform's ``x-ms-*`` extensions."""
    manifest = source.manifest
    url = urlsplit(source.base_url)
    dropdowns = {o["path"]: _list_operation_id(o) for o in manifest.get("options", [])}
    inputs = {
        o["path"]: {p["name"]: p["field"] for p in o["parameters"]}
        for o in manifest.get("options", [])
        if o.get("parameters")
    }
    schemas = SwaggerSchemas(source, dropdowns, inputs)
    paths: dict[str, dict[str, Any]] = {}
    for action in manifest.get("actions", []):
        paths.setdefault(action["path"], {})[action["method"].lower()] = _action(schemas, action)
    for option in manifest.get("options", []):
        paths.setdefault(option["path"], {})[option["method"].lower()] = _dropdown(schemas, option)
    for trigger in manifest.get("triggers", []):
        if "subscribe" in trigger and "unsubscribe" in trigger:
            _webhook_trigger(schemas, trigger, paths)
    problem = _ref_schema(schemas, manifest["errors"]["schema"])
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"]["default"] = {
                    "description": f"Error ({manifest['errors']['media_type']})",
                    "schema": problem,
                }
    return {
        "swagger": "2.0",
        "info": {
            "title": manifest["label"],
            "description": manifest["description"],
            "version": manifest["version"],
        },
        "host": url.netloc,
        "basePath": url.path.rstrip("/") or "/",
        "schemes": [url.scheme],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            SECURITY: {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": _auth_help(manifest),
            }
        },
        "security": [{SECURITY: []}],
        "paths": paths,
        "definitions": schemas.definitions(),
    }


def api_properties(source: ConnectorSource) -> dict[str, Any]:
    """Connection parameters and publisher facts; the token is a secure string."""
    manifest = source.manifest
    return {
        "properties": {
            "connectionParameters": {
                SECURITY: {
                    "type": "securestring",
                    "uiDefinition": {
                        "displayName": f"{manifest['auth']['label']} (as: Bearer <token>)",
                        "description": _auth_help(manifest),
                        "tooltip": "Type the word Bearer, a space, then your token.",
                        "constraints": {"tabIndex": 2, "clearText": False, "required": "true"},
                    },
                }
            },
            "iconBrandColor": ICON_BRAND_COLOR,
            "capabilities": ["actions"],
            "publisher": manifest["name"],
            "stackOwner": manifest["name"],
        }
    }


def _auth_help(manifest: dict[str, Any]) -> str:
    return f"Enter: Bearer <token>. {manifest['auth']['description']}"


def _file(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _list_operation_id(option: dict[str, Any]) -> str:
    return "List" + pascal(option["key"])


def _ref_schema(schemas: SwaggerSchemas, ref: str) -> dict[str, Any]:
    """A manifest schema reference (``schemas/call.json``, ``x.json#/$defs/y``) as a $ref."""
    return schemas.convert((_file(ref.partition("#")[0]), {"$ref": ref}))


def _response(schemas: SwaggerSchemas, ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "schema": _ref_schema(schemas, ref)}


def _action(schemas: SwaggerSchemas, action: dict[str, Any]) -> dict[str, Any]:
    input_file = _file(action["input"])
    input_schema = schemas.source.schemas[input_file]
    default = [201] if action.get("kind") == "create" else [200]
    operation: dict[str, Any] = {
        "operationId": pascal(action["key"]),
        "summary": action["label"],
        "description": action["description"],
        "x-ms-summary": action["label"],
        "x-ms-visibility": "important",
    }
    in_path = path_names(action["path"])
    as_query = _query_parameters(schemas, input_file, input_schema)
    path_parameters = [
        {
            "name": parameter["name"],
            "in": "path",
            "required": True,
            **{k: v for k, v in parameter.items() if k not in ("name", "in", "required")},
        }
        for parameter in as_query
        if parameter["name"] in in_path
    ]
    if action["method"].lower() in _BODY_METHODS:
        body = _body_schema(schemas, input_file)
        for name in in_path:  # travels in the path (phone_number), not the body
            body.get("properties", {}).pop(name, None)
            if name in body.get("required", []):
                body["required"] = [r for r in body["required"] if r != name]
        if not body.get("required"):
            body.pop("required", None)
        operation["parameters"] = [
            *path_parameters,
            {"name": "body", "in": "body", "required": True, "schema": body},
        ]
    else:
        operation["parameters"] = [
            *path_parameters,
            *(p for p in as_query if p["name"] not in in_path),
        ]
    operation["responses"] = {
        str(status): _response(schemas, action["output"], HTTPStatus(status).phrase)
        for status in action.get("statuses") or default
    }
    return operation


def _body_schema(schemas: SwaggerSchemas, file: str) -> dict[str, Any]:
    """An input schema as a body parameter; its title and description speak to developers
    (they name the endpoint), so the form shows the operation's own instead."""
    body = schemas.convert((file, schemas.source.schemas[file]), inputs=True)
    for key in ("x-ms-summary", "description"):
        body.pop(key, None)
    return body


def _query_parameters(
    schemas: SwaggerSchemas, file: str, schema: dict[str, Any]
) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    parameters = []
    for key, prop in schema.get("properties", {}).items():
        converted = schemas.convert((file, prop), inputs=True)
        parameter = {"name": key, "in": "query", "required": key in required}
        parameter.update({k: v for k, v in converted.items() if k in _QUERY_KEYS})
        if key in required:
            parameter.setdefault("x-ms-visibility", "important")
        parameters.append(parameter)
    return parameters


def _dropdown(schemas: SwaggerSchemas, option: dict[str, Any]) -> dict[str, Any]:
    return {
        "operationId": _list_operation_id(option),
        "summary": f"List {option['label'].lower()}",
        "description": option["description"],
        "x-ms-summary": option["label"],
        "x-ms-visibility": "internal",
        "parameters": [
            {
                "name": p["name"],
                "in": "query",
                "required": True,
                "type": "string",
                "x-ms-summary": p["name"],
                "description": p.get("description", ""),
            }
            for p in option.get("parameters", [])
        ],
        "responses": {"200": _response(schemas, option["output"], "OK")},
    }


def _webhook_trigger(
    schemas: SwaggerSchemas, trigger: dict[str, Any], paths: dict[str, dict[str, Any]]
) -> None:
    subscribe, unsubscribe = trigger["subscribe"], trigger["unsubscribe"]
    input_file = _file(subscribe["input"])
    body = _body_schema(schemas, input_file)
    # A connector trigger's flow cannot answer (Response needs the built-in HTTP trigger), so
    # the fields that make a responder are not offered; the README gives the responder way.
    for name in responder_fields(trigger):
        body["properties"].pop(name, None)
    target = body["properties"]["target_url"]
    target["x-ms-notification-url"] = True
    target["x-ms-visibility"] = "internal"
    events = body["properties"].get("events", {}).get("items", {})
    labels = {e["value"]: e["label"] for e in trigger.get("events", [])}
    if events.get("enum"):
        events["x-ms-enum-values"] = [
            {"value": v, "displayName": labels.get(v, v)} for v in events["enum"]
        ]
    created = _response(schemas, subscribe["output"], "Subscribed")
    created["headers"] = {
        "Location": {
            "type": "string",
            "description": "The subscription's URL; Power Automate sends DELETE to it.",
        }
    }
    paths.setdefault(subscribe["path"], {}).update(
        {
            "x-ms-notification-content": {
                "description": trigger["noun"],
                "schema": _ref_schema(schemas, trigger["output"]),
            },
            subscribe["method"].lower(): {
                "operationId": "On" + pascal(trigger["noun"]),
                "summary": trigger["label"],
                "description": trigger["description"],
                "x-ms-summary": trigger["label"],
                "x-ms-trigger": "single",
                "x-ms-visibility": "important",
                "parameters": [{"name": "body", "in": "body", "required": True, "schema": body}],
                "responses": {"201": created},
            },
        }
    )
    subscription = _file(subscribe["output"])
    has_deleted = "deleted" in schemas.source.schemas[subscription].get("$defs", {})
    paths.setdefault(unsubscribe["path"], {})[unsubscribe["method"].lower()] = {
        "operationId": "Delete" + pascal(trigger["key"]) + "Subscription",
        "summary": f"Stop {trigger['noun'].lower()} deliveries",
        "description": "Deletes a subscription; Power Automate calls it when a flow is turned off.",
        "x-ms-visibility": "internal",
        "parameters": [
            {"name": name, "in": "path", "required": True, "type": "string"}
            for name in path_names(unsubscribe["path"])
        ],
        "responses": {
            "200": (
                _response(schemas, f"{subscription}#/$defs/deleted", "Deleted")
                if has_deleted
                else {"description": "Deleted"}
            )
        },
    }
