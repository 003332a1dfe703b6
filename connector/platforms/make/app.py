"""Make custom app, in the local-development layout of the Make Apps SDK (VS Code extension):
``makecomapp.json`` plus one IML-JSON file per code (platforms.md §3).

Built from the manifest and schemas only:

* **connection** ``apiToken``: the connector's URL and bearer token; its test calls the
  manifest's auth test and names the connection after the answer's label;
* **base**: URL and ``Authorization: Bearer`` for every request, problem+json errors turned into
  Make error types (``ERROR_TYPES``), the token scrubbed from logs;
* **modules**: each manifest action (``create`` → action, ``search`` → search) with its input
  schema as mappable parameters and its output schema as the interface; each REST-hook trigger
  as an instant trigger on a dedicated, attached webhook;
* **webhook**: ``attach`` subscribes ``{{webhook.url}}`` and keeps the subscription id,
  ``detach`` deletes it; the webhook's own form carries the trigger's filters;
* **RPCs**: one per manifest dropdown source, feeding ``select`` fields as ``rpc://<id>``.

Files are plain JSON (no comments) so any tool can read them; ``origins`` holds a placeholder
app id to replace with the one Make gives the new custom app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connector.platforms.fields import Field, input_fields, responder_fields
from connector.platforms.make.interface import body_expression, input_parameter, interface
from connector.platforms.schema import camel, form, kebab, pascal, path_names, sample
from connector.platforms.source import ConnectorSource

__all__ = ["ERROR_TYPES", "MAKECOMAPP", "TARGET_FIELD", "app_files", "export"]

MAKECOMAPP = "makecomapp.json"
TARGET_FIELD = "target_url"  # the REST-hook field the platform fills with its webhook URL
EVENTS_FIELD = "events"  # the REST-hook field that picks events (fixed on an event's webhook)
CONNECTION_PARAMS = ("baseUrl", "apiToken")
# How Make should treat each problem status: data errors stop the bundle, token errors ask
# the user to reconnect, and only answers that are safe to repeat (409: the same request is
# still running; 429; 503) are retryable types. A 502/504 after a create is "outcome unknown"
# and stays a plain RuntimeError so Make never re-dials on its own.
ERROR_TYPES = {
    "400": "DataError",
    "401": "InvalidAccessTokenError",
    "402": "InvalidConfigurationError",
    "409": "ConnectionError",
    "413": "DataError",
    "422": "DataError",
    "429": "RateLimitError",
    "503": "ConnectionError",
}
# call-outcome-unknown in Make's terms: ``cause`` and ``retry_safe`` come with that problem
# (the connector's detail speaks of the Idempotency-Key header); every other problem shows
# its one-line ``message`` (detail plus each field error), else its detail.
OUTCOME_SAFE = (
    "Retrying this module with the same input is safe (for example from the scenario's"
    " incomplete executions): the connector looks the call up instead of calling again."
)
OUTCOME_UNSAFE = (
    "Check the call list in Retell before you run the scenario again, and map a value that is"
    " unique to the record into Idempotency key so that retries are safe."
)
_ERROR_MESSAGE = (
    "[{{statusCode}}] {{if(body.cause, body.cause + ' ' + if(body.retry_safe, '"
    + OUTCOME_SAFE
    + "', '"
    + OUTCOME_UNSAFE
    + "'), ifempty(body.message, body.detail))}}"
)
_ORIGIN = {
    "label": "Make (replace appId with your custom app's ID)",
    "baseUrl": "https://eu1.make.com/api",
    "appId": "retell-connector",
    "appVersion": 1,
    "apikeyFile": ".secrets/apikey",
}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Files = dict[str, Any]  # relative path → JSON document (str for the README)


def export(source: ConnectorSource, out: Path) -> list[Path]:
    """Write the app under ``out`` and return the written files."""
    written = []
    for relative, content in app_files(source).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=4) + "\n"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def app_files(source: ConnectorSource) -> Files:
    """Every file of the app, ``makecomapp.json`` first."""
    manifest = source.manifest
    files: Files = {}
    connection_id = camel(manifest["auth"]["label"])
    rpcs = {o["path"]: "list" + pascal(o["key"]) for o in manifest.get("options", [])}
    components: dict[str, dict[str, Any]] = {
        "connection": {connection_id: _connection(source, connection_id, files)},
        "webhook": {},
        "module": {},
        "rpc": {},
        "function": {},
        "endpoint": {},
    }
    groups: dict[str, list[str]] = {}
    for action in manifest.get("actions", []):
        module_id = camel(action["key"])
        components["module"][module_id] = _action(source, action, connection_id, rpcs, files)
        groups.setdefault(action["noun"] + "s", []).append(module_id)
    for trigger in manifest.get("triggers", []):
        if "subscribe" not in trigger or "unsubscribe" not in trigger:
            continue
        webhook_id = camel(trigger["key"])
        components["webhook"][webhook_id] = _webhook(source, trigger, connection_id, rpcs, files)
        module_id = "watch" + pascal(trigger["key"])
        components["module"][module_id] = _instant_trigger(source, trigger, webhook_id, files)
        groups.setdefault(trigger["noun"] + "s", []).append(module_id)
        # A connector event with an output of its own (a queued call failing, an inbound call
        # answered) gets its own webhook and module, so that its fields can be mapped.
        for event in trigger.get("events", []):
            if not event.get("output") or event.get("default"):
                continue
            webhook_id = camel(f"{trigger['key']} {event['value']}")
            components["webhook"][webhook_id] = _webhook(
                source, trigger, connection_id, rpcs, files, event=event
            )
            module_id = "watch" + pascal(event["value"])
            components["module"][module_id] = _instant_trigger(
                source, trigger, webhook_id, files, event=event
            )
            groups.setdefault(trigger["noun"] + "s", []).append(module_id)
    for option in manifest.get("options", []):
        rpc_id = rpcs[option["path"]]
        components["rpc"][rpc_id] = _rpc(option, rpc_id, connection_id, files)
    files["general/base.iml.json"] = _base(connection_id)
    files["general/common.json"] = {}
    files["general/groups.json"] = [{"label": k, "modules": v} for k, v in groups.items()]
    files["README.md"] = _readme(source)
    app = {
        "fileVersion": 1,
        "generalCodeFiles": {
            "base": "general/base.iml.json",
            "common": "general/common.json",
            "readme": "README.md",
            "groups": "general/groups.json",
        },
        "components": components,
        "origins": [dict(_ORIGIN)],
    }
    return {MAKECOMAPP: app, **files}


def _code_files(
    files: Files, folder: str, name: str, codes: dict[str, Any]
) -> dict[str, str | None]:
    """Store each code under ``<folder>/<name>/<name>.<code>.iml.json``; None stays None."""
    paths: dict[str, str | None] = {}
    for code, content in codes.items():
        if content is None:
            paths[code] = None
            continue
        path = f"{folder}/{name}/{name}.{kebab(code)}.iml.json"
        files[path] = content
        paths[code] = path
    return paths


def _file(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _connection(source: ConnectorSource, connection_id: str, files: Files) -> dict[str, Any]:
    auth = source.manifest["auth"]
    base_url, token = CONNECTION_PARAMS
    test = auth["test"]
    params = [
        {
            "name": base_url,
            "label": "Connector URL",
            "type": "url",
            "required": True,
            "default": source.base_url,
            "help": "The address of your Retell connector server, without a trailing slash.",
        },
        {
            "name": token,
            "label": auth["label"],
            "type": "password",
            "required": True,
            "help": auth["description"],
        },
    ]
    communication = {
        "url": f"{{{{parameters.{base_url}}}}}{test['path']}",
        "method": test["method"],
        "headers": {"Authorization": f"Bearer {{{{parameters.{token}}}}}"},
        "response": {
            "type": "json",
            "metadata": {"type": "text", "value": f"{{{{body.{auth['connection_label']}}}}}"},
            "error": {"message": _ERROR_MESSAGE},
        },
        "log": {"sanitize": ["request.headers.authorization"]},
    }
    return {
        "label": source.manifest["label"],
        "connectionType": "basic",
        "codeFiles": _code_files(
            files,
            "connections",
            kebab(connection_id),
            {"communication": communication, "params": params, "common": None},
        ),
    }


def _base(connection_id: str) -> dict[str, Any]:
    base_url, token = CONNECTION_PARAMS
    return {
        "baseUrl": f"{{{{connection.{base_url}}}}}",
        "headers": {"Authorization": f"Bearer {{{{connection.{token}}}}}"},
        "response": {
            "type": "json",
            "error": {
                "message": _ERROR_MESSAGE,
                **{
                    status: {"message": _ERROR_MESSAGE, "type": kind}
                    for status, kind in ERROR_TYPES.items()
                },
            },
        },
        "log": {"sanitize": ["request.headers.authorization"]},
    }


def _parameters(
    source: ConnectorSource,
    schema_ref: str,
    rpcs: dict[str, str],
    *,
    skip: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
) -> tuple[list[Field], list[dict[str, Any]]]:
    file = _file(schema_ref)
    schema = form(source, schema_ref)
    fields = [f for f in input_fields(schema) if f.key not in skip]
    params = [
        input_parameter(
            f, (file, schema["properties"][f.key]), source=source, rpcs=rpcs, labels=labels
        )
        for f in fields
    ]
    return fields, params


def _output(source: ConnectorSource, schema_ref: str) -> tuple[list[Any], dict[str, Any]]:
    file = _file(schema_ref)
    located = (file, source.schemas[file])
    example = sample(source, located)
    return interface(source, located), example if isinstance(example, dict) else {}


def _action(
    source: ConnectorSource,
    action: dict[str, Any],
    connection_id: str,
    rpcs: dict[str, str],
    files: Files,
) -> dict[str, Any]:
    fields, params = _parameters(source, action["input"], rpcs)
    method = action["method"].upper()
    in_path = path_names(action["path"])
    url = str(action["path"])
    for name in in_path:  # a phone number's + must reach the connector as itself
        url = url.replace(f"{{{name}}}", f"{{{{encodeURL(trim(parameters.{name}))}}}}")
    communication: dict[str, Any] = {"url": url, "method": method}
    values = {f.key: body_expression(f) for f in fields if f.key not in in_path}
    if method in _BODY_METHODS:
        communication["body"] = values
    elif values:
        communication["qs"] = values
    communication["response"] = {"output": "{{body}}"}
    outputs, example = _output(source, action["output"])
    search = action.get("kind") == "search"
    verb, _, rest = action["label"].partition(" ")
    label = f"Get a {action['noun']}" if search else f"{verb} a {rest}" if rest else verb
    return {
        "label": label,
        "description": action["description"],
        "moduleType": "search" if search else "action",
        "actionCrud": _crud(action),
        "connection": connection_id,
        "altConnection": None,
        "codeFiles": _code_files(
            files,
            "modules",
            kebab(action["key"]),
            {
                "communication": communication,
                "staticParams": [],
                "mappableParams": params,
                "interface": outputs,
                "samples": example,
                "scope": None,
            },
        ),
    }


def _crud(action: dict[str, Any]) -> str:
    """Make's kind of action: a search reads, DELETE deletes, PUT/PATCH and a destructive POST
    (Cancel Queued Call) update, any other POST creates."""
    method = str(action["method"]).upper()
    if action.get("kind") == "search":
        return "read"
    if method == "DELETE":
        return "delete"
    if method in ("PUT", "PATCH") or (action.get("hints") or {}).get("destructive"):
        return "update"
    return "create"


def _webhook(
    source: ConnectorSource,
    trigger: dict[str, Any],
    connection_id: str,
    rpcs: dict[str, str],
    files: Files,
    *,
    event: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The trigger's webhook; with ``event``, one subscribed to that event alone."""
    subscribe, unsubscribe = trigger["subscribe"], trigger["unsubscribe"]
    labels = {e["value"]: e["label"] for e in trigger.get("events", [])}
    fixed = (EVENTS_FIELD,) if event else ()
    # A custom app's webhook cannot answer: the README's responder steps give that way.
    fields, params = _parameters(
        source,
        subscribe["input"],
        rpcs,
        skip=(TARGET_FIELD, *responder_fields(trigger), *fixed),
        labels=labels,
    )
    body: dict[str, Any] = {
        TARGET_FIELD: "{{webhook.url}}",
        **{f.key: body_expression(f) for f in fields},
    }
    if event is not None:
        body[EVENTS_FIELD] = [event["value"]]
    attach = {
        "url": subscribe["path"],
        "method": subscribe["method"].upper(),
        "body": body,
        "response": {"data": {"externalHookId": "{{body.id}}"}},
    }
    detach = {
        "url": unsubscribe["path"].replace("{id}", "{{webhook.externalHookId}}"),
        "method": unsubscribe["method"].upper(),
    }
    return {
        "label": f"{trigger['label']}: {event['label']}" if event else trigger["label"],
        "webhookType": "web",
        "connection": connection_id,
        "altConnection": None,
        "codeFiles": _code_files(
            files,
            "webhooks",
            kebab(f"{trigger['key']} {event['value']}" if event else trigger["key"]),
            {
                "communication": {"output": "{{body}}"},
                "params": params,
                "attach": attach,
                "detach": detach,
                "update": None,
                "requiredScope": None,
            },
        ),
    }


def _instant_trigger(
    source: ConnectorSource,
    trigger: dict[str, Any],
    webhook_id: str,
    files: Files,
    *,
    event: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The trigger's instant module; with ``event``, that event's, with its own fields."""
    if event is None:
        label, key = f"Watch {trigger['noun'].title()}s", trigger["key"]
        description, output = trigger["description"], trigger["output"]
    else:
        label, key = f"Watch: {event['label']}", event["value"]
        description = f"Triggers when {event['when']}. {event.get('description', '')}".strip()
        output = event["output"]
    outputs, example = _output(source, output)
    if event is not None:  # the schema's example of this very event, when it has one
        examples = source.schema(output).get("examples") or []
        example = next((x for x in examples if x.get("event") == event["value"]), example)
    return {
        "label": label,
        "description": description,
        "moduleType": "instant_trigger",
        "webhook": webhook_id,
        "connection": None,
        "altConnection": None,
        "codeFiles": _code_files(
            files,
            "modules",
            kebab("watch_" + key),
            {
                "communication": None,
                "staticParams": [],
                "mappableParams": None,
                "interface": outputs,
                "samples": example,
                "scope": None,
            },
        ),
    }


def _rpc(option: dict[str, Any], rpc_id: str, connection_id: str, files: Files) -> dict[str, Any]:
    """An options RPC. A dependent one (the option's ``parameters``) sends the module's other
    fields as query parameters: Make passes a module's parameters to the RPCs it calls."""
    needs = option.get("parameters", [])
    communication: dict[str, Any] = {
        "url": option["path"],
        "method": option["method"].upper(),
        "response": {
            "iterate": "{{body}}",
            "output": {"label": "{{item.label}}", "value": "{{item.value}}"},
        },
    }
    if needs:
        communication["qs"] = {p["name"]: f"{{{{parameters.{p['field']}}}}}" for p in needs}
    # Shown only by Make's RPC test tool, to fill in what a module would pass.
    params = [
        {"name": p["field"], "type": "text", "label": p["field"], "required": True} for p in needs
    ]
    return {
        "label": option["label"],
        "connection": connection_id,
        "altConnection": None,
        "codeFiles": _code_files(
            files,
            "rpcs",
            kebab(rpc_id),
            {"communication": communication, "params": params},
        ),
    }


def _readme(source: ConnectorSource) -> str:
    manifest = source.manifest
    lines = [
        f"# {manifest['label']}",
        "",
        manifest["description"],
        "",
        f"Generated from the connector's manifest (version {manifest['version']}) by",
        "`retell-connector export make`; regenerate rather than edit.",
        "",
        "Connect with the connector's URL and one of its API tokens. Every call event arrives",
        "with Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature);",
        "the event's `id` is the same on every retry, so use it to skip duplicates.",
        "",
    ]
    for trigger in manifest.get("triggers", []):
        respond = trigger.get("respond")
        if respond:
            lines += _responder_steps(trigger, respond)
    return "\n".join(lines)


def _responder_steps(trigger: dict[str, Any], respond: dict[str, Any]) -> list[str]:
    """How to answer inbound calls from a scenario. A custom app's instant trigger cannot:
    its webhook answers Make's own acknowledgement, and Make's *Webhook response* module
    answers only the built-in *Custom webhook* trigger. So the scenario starts with that
    trigger, and its address is subscribed as a responder with one request."""
    mode = respond["mode"]
    body = {"target_url": "<the Custom webhook address>", mode["field"]: mode["value"]}
    timeout = respond.get("timeout_field")
    if timeout:
        body[timeout] = 4
    subscribe = trigger["subscribe"]
    return [
        f"## {respond['label']}",
        "",
        respond["description"],
        "",
        "This app's *Watch* trigger cannot give that answer (Make's *Webhook response* module",
        "answers only its built-in *Custom webhook* trigger), so:",
        "",
        "1. Start a scenario with the **Custom webhook** module (app *Webhooks*), copy its",
        "   address, and end it with **Webhook response** (same app): status 200, body JSON",
        "   such as",
        '   `{"dynamic_variables": {"first_name": "Ada"}, "override_agent_id": "agent_…"}`.',
        "2. Subscribe that address as a responder, once (the token of this app's connection):",
        "",
        "   ```sh",
        f"   curl -X {subscribe['method']} https://<your-connector>{subscribe['path']} \\",
        "     -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json' \\",
        f"     -d '{json.dumps(body)}'",
        "   ```",
        "",
        "   Keep the `secret` of the answer if the scenario should check the Standard Webhooks",
        "   signature. Turn the scenario on (scheduling: immediately).",
        "",
    ]
