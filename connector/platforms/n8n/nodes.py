"""The n8n credential type and node descriptions, as data, from the manifest and schemas.

Mapping decisions (platforms.md §2.1): one ``resource`` per action noun with an
``operation`` selector whose options carry each action's ``routing.request``; required
input fields are top-level parameters, optional ones sit in an "Additional Fields"
collection so that an unset field is never sent (declarative routing sends every displayed
top-level parameter, blanks included). The manifest's idempotency field becomes a
top-level header option with a per-item default key, because a retried n8n step must not
dial twice. Parameter names are the schema's own keys, so the body needs no renaming.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from connector.platforms.fields import Field, input_fields
from connector.platforms.n8n.js import Js, js_string
from connector.platforms.schema import form, path_names
from connector.platforms.source import PLACEHOLDER_BASE_URL, ConnectorSource

__all__ = [
    "ADDITIONAL_FIELDS",
    "IDEMPOTENCY_DEFAULT",
    "Names",
    "action_node",
    "credentials_type",
    "load_options_method",
    "the_trigger",
    "trigger_node",
]

ADDITIONAL_FIELDS = "additionalFields"
# Empty: sendIdempotencyKey derives the key (see ACTION_HELPERS in js.py). An expression
# such as "{{ $execution.id }}-{{ $runIndex }}-{{ $itemIndex }}" cannot be the default:
# execution ids are 1, 2, … in every n8n database, so two installations sharing a token
# would get each other's calls back, and n8n's expressions offer no installation id.
IDEMPOTENCY_DEFAULT = ""
ICON = "fa:phone"
_EXPRESSION_HINT = "Choose from the list, or set a value with an expression."


def _camel(text: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _pascal(text: str) -> str:
    camel = _camel(text)
    return camel[:1].upper() + camel[1:]


@dataclass(frozen=True)
class Names:
    """Every n8n name derived from the manifest's ``name`` and ``label``."""

    package: str
    label: str
    node_class: str
    trigger_class: str
    credentials_class: str

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> Names:
        base = _pascal(str(manifest["name"]))
        return cls(
            package=f"n8n-nodes-{manifest['name']}",
            label=str(manifest["label"]),
            node_class=base,
            trigger_class=f"{base}Trigger",
            credentials_class=f"{base}Api",
        )

    @property
    def node(self) -> str:
        return _lower_first(self.node_class)

    @property
    def trigger(self) -> str:
        return _lower_first(self.trigger_class)

    @property
    def credentials(self) -> str:
        return _lower_first(self.credentials_class)


def credentials_type(source: ConnectorSource, names: Names) -> dict[str, Any]:
    """Connector URL + bearer token, tested with the manifest's auth test request."""
    auth = source.manifest["auth"]
    if auth["type"] != "bearer":
        raise ValueError(f"the n8n export supports bearer auth only, not {auth['type']!r}")
    default_url = "" if source.base_url == PLACEHOLDER_BASE_URL else source.base_url
    return {
        "name": names.credentials,
        "displayName": f"{names.label} Connector API",
        "icon": ICON,
        "properties": [
            {
                "displayName": "Connector URL",
                "name": "baseUrl",
                "type": "string",
                "default": default_url,
                "placeholder": PLACEHOLDER_BASE_URL,
                "required": True,
                "description": "The public address of your connector server, without a path.",
            },
            {
                "displayName": str(auth["label"]),
                "name": "apiToken",
                "type": "string",
                "typeOptions": {"password": True},
                "default": "",
                "required": True,
                "description": str(auth["description"]),
            },
        ],
        "authenticate": {
            "type": "generic",
            "properties": {"headers": {"Authorization": "=Bearer {{$credentials.apiToken}}"}},
        },
        "test": {
            "request": {
                "baseURL": "={{$credentials.baseUrl}}",
                "url": auth["test"]["path"],
                "method": auth["test"]["method"],
            }
        },
    }


def _load_options(path: str) -> dict[str, Any]:
    """Declarative dynamic dropdown: GET ``path`` and map ``{value, label}`` to n8n's form."""
    return {
        "routing": {
            "request": {"method": "GET", "url": path},
            "output": {
                "postReceive": [
                    Js("eachChoice"),
                    {
                        "type": "setKeyValue",
                        "properties": {
                            "name": "={{$responseItem.label}}",
                            "value": "={{$responseItem.value}}",
                        },
                    },
                ]
            },
        }
    }


def _pairs() -> dict[str, Any]:
    return {
        "type": "fixedCollection",
        "typeOptions": {"multipleValues": True},
        "default": {},
        "placeholder": "Add Pair",
        "options": [
            {
                "name": "pairs",
                "displayName": "Pair",
                "values": [
                    {"displayName": "Name", "name": "name", "type": "string", "default": ""},
                    {"displayName": "Value", "name": "value", "type": "string", "default": ""},
                ],
            }
        ],
    }


def _shape(field: Field) -> dict[str, Any]:
    """The n8n ``type`` and its companions (default, options, typeOptions) for a field."""
    if field.options_source:
        return {"type": "options", "default": ""}
    if field.choices:
        options = [{"name": c, "value": c} for c in field.choices]
        if field.kind == "array":
            return {
                "type": "multiOptions",
                "default": list(field.default or []),
                "options": options,
            }
        return {"type": "options", "default": field.default or field.choices[0], "options": options}
    if field.kind == "dict":
        return _pairs()
    if field.kind == "json":
        return {"type": "json", "default": ""}
    if field.kind == "boolean":
        return {"type": "boolean", "default": bool(field.default)}
    if field.kind in ("integer", "number"):
        return {"type": "number", "default": field.default if field.default is not None else 0}
    if field.kind == "array":
        return {"type": "string", "default": [], "typeOptions": {"multipleValues": True}}
    return {"type": "string", "default": "" if field.default is None else str(field.default)}


def _routing(field: Field, path: str, send_to: str) -> dict[str, Any]:
    """How the value reaches the request: body/query property, or a preSend for objects."""
    if field.kind == "dict":
        return {"send": {"preSend": [Js(f"sendPairs({js_string(path)}, {js_string(field.key)})")]}}
    if field.kind == "json":
        text_ok = ", true" if field.text_ok else ""
        call = f"sendJson({js_string(path)}, {js_string(field.key)}{text_ok})"
        return {"send": {"preSend": [Js(call)]}}
    return {"send": {"type": send_to, "property": field.key, "propertyInDotNotation": False}}


def _placeholder(field: Field) -> str | None:
    if field.example is None or field.kind == "boolean":
        return None
    if isinstance(field.example, dict | list):
        return json.dumps(field.example) if field.kind == "json" else None
    return str(field.example)


def _property(field: Field, *, path: str, send_to: str) -> dict[str, Any]:
    shape = _shape(field)
    description = field.help
    if field.options_source:
        shape["typeOptions"] = {"loadOptions": _load_options(field.options_source)}
        description = f"{description} {_EXPRESSION_HINT}".strip()
    prop: dict[str, Any] = {"displayName": field.label, "name": field.key, **shape}
    if field.required:
        prop["required"] = True
    if description:
        prop["description"] = description
    placeholder = _placeholder(field)
    if placeholder is not None and "placeholder" not in prop:
        prop["placeholder"] = placeholder
    prop["routing"] = _routing(field, path, send_to)
    return prop


def _idempotency_property(
    field: Field, idempotency: dict[str, Any], show: dict[str, Any]
) -> dict[str, Any]:
    hours = idempotency.get("retention_hours")
    kept = f" Kept for {hours} hours." if hours else ""
    return {
        "displayName": field.label,
        "name": field.key,
        "type": "string",
        "default": IDEMPOTENCY_DEFAULT,
        "description": (
            f"Sent as the {idempotency['header']} header: a repeated request with the same key "
            f"returns the first result instead of calling twice.{kept} Leave empty and the "
            "node makes one from this n8n installation, workflow, node, execution, run and "
            "item: the same when n8n retries this step (Retry On Fail), different everywhere "
            "else. Retrying a whole execution from the Executions list starts a new execution "
            "and so a new key; to make that safe too, use a value from your data, such as a "
            "record ID."
        ),
        "placeholder": "Leave empty for a key per execution and item",
        "displayOptions": {"show": show},
        "routing": {
            "send": {
                "preSend": [
                    Js(
                        f"sendIdempotencyKey({js_string(field.key)}, "
                        f"{js_string(idempotency['header'])})"
                    )
                ]
            }
        },
    }


def _action_properties(source: ConnectorSource, action: dict[str, Any], resource: str) -> list[Any]:
    """The parameters of one action: required first, the idempotency key, then the rest."""
    operation = _camel(action["key"])
    show = {"resource": [resource], "operation": [operation]}
    send_to = "query" if action["method"] == "GET" else "body"
    idempotency = action.get("idempotency") or {}
    in_path = path_names(action["path"])
    top: list[dict[str, Any]] = []
    optional: list[dict[str, Any]] = []
    for field in input_fields(form(source, action["input"])):
        if field.key == idempotency.get("field"):
            top.append(_idempotency_property(field, idempotency, show))
        elif field.key in in_path:  # filled into the operation's URL (see _request_url)
            prop = _property(field, path=field.key, send_to=send_to)
            del prop["routing"]
            top.append({**prop, "required": True, "displayOptions": {"show": show}})
        elif field.required:
            prop = _property(field, path=field.key, send_to=send_to)
            top.append({**prop, "displayOptions": {"show": show}})
        else:
            path = f"{ADDITIONAL_FIELDS}.{field.key}"
            optional.append(_property(field, path=path, send_to=send_to))
    if optional:
        top.append(
            {
                "displayName": "Additional Fields",
                "name": ADDITIONAL_FIELDS,
                "type": "collection",
                "placeholder": "Add Field",
                "default": {},
                "displayOptions": {"show": show},
                "options": sorted(optional, key=lambda p: str(p["displayName"]).lower()),
            }
        )
    _wire_dependent_dropdowns(source, top)
    return top


def _wire_dependent_dropdowns(source: ConnectorSource, properties: list[dict[str, Any]]) -> None:
    """A dropdown whose option reads other fields (the manifest option's ``parameters``) sends
    their values as query parameters and reloads when they change (``loadOptionsDependsOn``)."""
    paths: dict[str, str] = {}
    for prop in properties:
        if prop.get("type") == "collection":
            paths.update({o["name"]: f"{prop['name']}.{o['name']}" for o in prop["options"]})
        else:
            paths[prop["name"]] = prop["name"]
    needs = {o["path"]: o.get("parameters", []) for o in source.manifest["options"]}
    for prop in properties:
        for field in prop["options"] if prop.get("type") == "collection" else [prop]:
            request = field.get("typeOptions", {}).get("loadOptions", {}).get("routing", {})
            request = request.get("request", {})
            wanted = [p for p in needs.get(request.get("url"), []) if p["field"] in paths]
            if not wanted:
                continue
            request["qs"] = {
                p["name"]: "={{$parameter"
                + "".join(f"[{js_string(part)}]" for part in paths[p["field"]].split("."))
                + "}}"
                for p in wanted
            }
            field["typeOptions"]["loadOptionsDependsOn"] = [paths[p["field"]] for p in wanted]


def action_node(source: ConnectorSource, names: Names) -> dict[str, Any]:
    """The declarative action node: resource → operation → fields, routed to the connector."""
    manifest = source.manifest
    resources: dict[str, list[dict[str, Any]]] = {}
    for action in manifest["actions"]:
        resources.setdefault(str(action["noun"]), []).append(action)
    selectors: list[dict[str, Any]] = [
        {
            "displayName": "Resource",
            "name": "resource",
            "type": "options",
            "noDataExpression": True,
            "default": _camel(next(iter(resources))),
            "options": [{"name": noun, "value": _camel(noun)} for noun in resources],
        }
    ]
    fields: list[dict[str, Any]] = []
    for noun, actions in resources.items():
        resource = _camel(noun)
        selectors.append(
            {
                "displayName": "Operation",
                "name": "operation",
                "type": "options",
                "noDataExpression": True,
                "displayOptions": {"show": {"resource": [resource]}},
                "default": _camel(actions[0]["key"]),
                "options": [
                    {
                        "name": action["label"],
                        "value": _camel(action["key"]),
                        "action": action["label"],
                        "description": action["description"],
                        "routing": {
                            "request": {"method": action["method"], "url": _request_url(action)},
                            "output": {
                                "postReceive": [
                                    _surface_problem(source, action),
                                    _shape_output(source, action),
                                ]
                            },
                        },
                    }
                    for action in actions
                ],
            }
        )
        for action in actions:
            fields.extend(_action_properties(source, action, resource))
    return {
        "displayName": names.label,
        "name": names.node,
        "icon": ICON,
        "group": ["transform"],
        "version": 1,
        "subtitle": '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
        "description": manifest["description"],
        "defaults": {"name": names.label},
        "inputs": ["main"],
        "outputs": ["main"],
        "credentials": [{"name": names.credentials, "required": True}],
        "requestDefaults": {
            "baseURL": "={{$credentials.baseUrl}}",
            "headers": {"Accept": "application/json", "Content-Type": "application/json"},
            # Error answers reach postReceive, where surfaceProblem words them (n8n's own
            # mapping would show a generic line and hide the connector's detail).
            "ignoreHttpStatusErrors": True,
        },
        "properties": selectors + fields,
    }


def _request_url(action: dict[str, Any]) -> str:
    """The action's path; ``{name}`` parts become an expression of that (required) parameter,
    URL-encoded, so a phone number's ``+`` arrives as itself."""
    path = str(action["path"])
    names = path_names(path)
    for name in names:
        expression = f"encodeURIComponent(String($parameter[{js_string(name)}]).trim())"
        path = path.replace(f"{{{name}}}", f"{{{{{expression}}}}}")
    return "=" + path if names else path


def _surface_problem(source: ConnectorSource, action: dict[str, Any]) -> Js:
    """The postReceive that turns an error answer into n8n's error, fields by their label."""
    labels = {f.key: f.label for f in input_fields(form(source, action["input"]))}
    return Js(f"surfaceProblem({json.dumps(labels, ensure_ascii=False)})")


def _shape_output(source: ConnectorSource, action: dict[str, Any]) -> Js:
    """The postReceive that keeps the output item to what the output schema offers."""
    file = action["output"].rsplit("/", 1)[-1]
    properties = source.schemas[file].get("properties", {})
    # Hidden members of this schema and of the schemas its properties come from (a created
    # call lists call.json's fields; Retell may still send call.json's access token).
    files = {file} | {
        str(p["$ref"]).partition("#")[0] or file
        for p in properties.values()
        if isinstance(p.get("$ref"), str)
    }
    hidden = sorted(
        key
        for name in files
        for key, prop in source.schemas[name].get("properties", {}).items()
        if prop.get("x-visibility") == "hidden"
    )
    return Js(f"shapeOutput({json.dumps(list(properties))}, {json.dumps(hidden)})")


def load_options_method(path: str) -> str:
    """The trigger's loadOptions method name for an options endpoint (``getAgents``)."""
    return _camel(f"get {path.rstrip('/').rsplit('/', 1)[-1]}")


def _trigger_filter(filter_: dict[str, Any], trigger: dict[str, Any]) -> dict[str, Any]:
    prop: dict[str, Any] = {"displayName": filter_["label"], "name": filter_["key"]}
    description = str(filter_.get("description", ""))
    source = (filter_.get("options") or {}).get("source")
    if filter_.get("type") == "array" and trigger.get("events"):
        prop.update(
            type="multiOptions",
            default=[e["value"] for e in trigger["events"] if e.get("default")],
            options=[
                {"name": e["label"], "value": e["value"], "description": e["description"]}
                for e in trigger["events"]
            ],
        )
    elif source:
        prop.update(
            type="options",
            default="",
            typeOptions={"loadOptionsMethod": load_options_method(source)},
        )
        description = f"{description} {_EXPRESSION_HINT}".strip()
    else:
        prop.update(type="string", default="")
    if filter_.get("required"):
        prop["required"] = True
    prop["description"] = description
    return prop


def the_trigger(source: ConnectorSource) -> dict[str, Any]:
    """The manifest's one trigger (the package has one trigger node)."""
    triggers = source.manifest["triggers"]
    if len(triggers) != 1:
        raise ValueError(f"the n8n export expects one trigger, the manifest has {len(triggers)}")
    return dict(triggers[0])


# The webhook's answer, by mode: at once and empty for delivered events; for a responder
# (the manifest trigger's ``respond``) the first item of the workflow's last node, as n8n's
# Webhook node does with "When Last Node Finishes". A "Respond to Webhook" node cannot be
# used: from its version 1.1 it refuses to run unless its workflow starts with one of n8n's
# own webhook nodes (RespondToWebhook.node.ts, WEBHOOK_NODE_TYPES), which a community
# trigger is not.
def _response_setting(respond: dict[str, Any] | None, responding: str, delivering: str) -> str:
    if respond is None:
        return delivering
    field, value = respond["mode"]["field"], respond["mode"]["value"]
    return (
        f"={{{{$parameter[{js_string(field)}] === {js_string(value)} ? "
        f"{js_string(responding)} : {js_string(delivering)}}}}}"
    )


def _respond_properties(source: ConnectorSource, trigger: dict[str, Any]) -> list[dict[str, Any]]:
    """Mode (receive events, or answer inbound calls) and the answer's time budget."""
    respond = trigger["respond"]
    field, value = respond["mode"]["field"], respond["mode"]["value"]
    schema = form(source, trigger["subscribe"]["input"])
    inputs = {f.key: f for f in input_fields(schema)}
    mode_help = inputs[field].help if field in inputs else ""
    properties: list[dict[str, Any]] = [
        {
            "displayName": "Mode",
            "name": field,
            "type": "options",
            "noDataExpression": True,
            "default": "deliver",
            "options": [
                {
                    "name": "Receive Call Events",
                    "value": "deliver",
                    "description": "Start the workflow for each picked event, after it happens",
                },
                {"name": respond["label"], "value": value, "description": respond["description"]},
            ],
            "description": mode_help,
        },
        {
            "displayName": (
                f"{respond['label']}: end the workflow with the answer, for example an Edit "
                "Fields node setting dynamic_variables (an object), override_agent_id or "
                "metadata. The first item of the last node that runs is the answer."
            ),
            "name": "respondNotice",
            "type": "notice",
            "default": "",
            "displayOptions": {"show": {field: [value]}},
        },
    ]
    timeout = respond.get("timeout_field")
    if timeout and timeout in inputs:
        budget = inputs[timeout]
        prop = schema["properties"][timeout]  # its bounds are the schema's, not copied here
        bounds = (("minValue", "minimum"), ("maxValue", "maximum"))
        limits = {name: prop[keyword] for name, keyword in bounds if keyword in prop}
        properties.append(
            {
                "displayName": budget.label,
                "name": timeout,
                "type": "number",
                "default": budget.default if budget.default is not None else 4,
                "typeOptions": {**limits, "numberPrecision": 1},
                "description": budget.help,
                "displayOptions": {"show": {field: [value]}},
            }
        )
    return properties


def trigger_node(source: ConnectorSource, names: Names) -> dict[str, Any]:
    """The webhook trigger: REST-hook subscription on activation, one item per event; with
    the manifest's ``respond``, also a mode that answers inbound calls while they ring."""
    trigger = the_trigger(source)
    respond = trigger.get("respond")
    filters = [_trigger_filter(f, trigger) for f in trigger["filters"]]
    if respond is not None:
        hide = {"hide": {respond["mode"]["field"]: [respond["mode"]["value"]]}}
        filters = [{**f, "displayOptions": hide} if f["name"] == "events" else f for f in filters]
    properties = (_respond_properties(source, trigger) if respond else []) + filters
    return {
        "displayName": f"{names.label} Trigger",
        "name": names.trigger,
        "icon": ICON,
        "group": ["trigger"],
        "version": 1,
        "subtitle": '={{($parameter["events"] || []).join(", ")}}',
        "description": trigger["description"],
        "defaults": {"name": f"{names.label} Trigger"},
        "inputs": [],
        "outputs": ["main"],
        "credentials": [{"name": names.credentials, "required": True}],
        "webhooks": [
            {
                "name": "default",
                "httpMethod": "POST",
                "responseMode": _response_setting(respond, "lastNode", "onReceived"),
                "responseData": _response_setting(respond, "firstEntryJson", "noData"),
                "path": "webhook",
            }
        ],
        "properties": properties,
    }
