"""n8n export: a community-node package (credentials, action node, trigger node) and an
example workflow, generated only from the manifest and schemas.

Layout (what n8n's package loader reads, platforms.md §2.1)::

    package.json                      "n8n" block listing dist/*.js, community-node keyword
    README.md                         install steps
    dist/credentials/<X>Api.credentials.js
    dist/nodes/<X>/<X>.node.js        declarative action node (no execute(); routing only)
    dist/nodes/<X>Trigger/<X>Trigger.node.js   webhook trigger with REST-hook subscription
    examples/call-analyzed-to-sheet.json       trigger → Set, as `n8n export:workflow` writes it

The JavaScript is plain CommonJS, so there is no build step. Output is deterministic (ids
are UUIDv5 of fixed names), so re-exporting an unchanged manifest changes no file.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from connector.platforms.n8n.js import (
    ACTION_HELPERS,
    GENERATED,
    HELPER_EXPORTS,
    TRIGGER_RUNTIME,
    Js,
    js_literal,
    js_string,
)
from connector.platforms.n8n.nodes import (
    Names,
    action_node,
    credentials_type,
    load_options_method,
    the_trigger,
    trigger_node,
)
from connector.platforms.source import ConnectorSource

__all__ = ["EXAMPLE", "example_workflow", "export", "package_files"]

EXAMPLE = "examples/call-analyzed-to-sheet.json"
EXAMPLE_EVENT = "call_analyzed"
# Set node ("Edit Fields") as n8n 1.x/2.x writes it; assignment types it accepts.
SET_NODE = {"type": "n8n-nodes-base.set", "typeVersion": 3.4}
_SET_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _uuid(names: Names, purpose: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://{names.package}/{purpose}"))


def _credentials_js(source: ConnectorSource, names: Names) -> str:
    literal = js_literal(credentials_type(source, names), indent=2).replace("\n", "\n    ")
    return (
        f"'use strict';\n{GENERATED}\n"
        f"/** The connector's URL and bearer token; n8n adds the Authorization header. */\n"
        f"class {names.credentials_class} {{\n"
        f"  constructor() {{\n    Object.assign(this, {literal});\n  }}\n}}\n\n"
        f"module.exports = {{ {names.credentials_class} }};\n"
    )


def _action_js(source: ConnectorSource, names: Names) -> str:
    return (
        f"'use strict';\n{GENERATED}\n{ACTION_HELPERS}\n"
        f"const description = {js_literal(action_node(source, names))};\n\n"
        f"class {names.node_class} {{\n  constructor() {{\n    this.description = description;\n"
        f"  }}\n}}\n\n"
        f"module.exports = {{ {names.node_class}, {', '.join(HELPER_EXPORTS)} }};\n"
    )


def _trigger_js(source: ConnectorSource, names: Names) -> str:
    trigger = the_trigger(source)
    filters = trigger["filters"]
    defaults = {
        f["key"]: [e["value"] for e in trigger["events"] if e.get("default")]
        for f in filters
        if f.get("type") == "array" and trigger.get("events")
    }
    headers = trigger["signing"]["headers"]
    load_options = {
        load_options_method(f["options"]["source"]): Js(
            f"loadChoices({js_string(f['options']['source'])}, "
            f"{js_string('Any ' + str(f['label']).lower())})"
        )
        for f in filters
        if (f.get("options") or {}).get("source")
    }
    if trigger["signing"]["scheme"] != "standard-webhooks":
        raise ValueError("the n8n trigger verifies Standard Webhooks signatures only")
    constants = "\n".join(
        [
            f"const CREDENTIALS = {js_string(names.credentials)};",
            f"const SUBSCRIPTIONS = {js_string(trigger['subscribe']['path'])};",
            f"const SUBSCRIBE_METHOD = {js_string(trigger['subscribe']['method'])};",
            f"const UNSUBSCRIBE_PATH = {js_string(trigger['unsubscribe']['path'])};",
            f"const UNSUBSCRIBE_METHOD = {js_string(trigger['unsubscribe']['method'])};",
            f"const FILTERS = {json.dumps([f['key'] for f in filters])};",
            f"const FILTER_DEFAULTS = {json.dumps(defaults)};",
            f"const SIGNATURE_HEADERS = {json.dumps(headers)};",
            f"const RESPOND = {json.dumps(_respond_constant(trigger))};",
            "const TOLERANCE_SECONDS = 5 * 60;",
        ]
    )
    methods = js_literal({"loadOptions": load_options}).replace("\n", "\n    ")
    cls = names.trigger_class
    return f"""'use strict';
{GENERATED}
const crypto = require('node:crypto');

{constants}

{TRIGGER_RUNTIME}
const description = {js_literal(trigger_node(source, names))};

class {cls} {{
  constructor() {{
    this.description = description;
    this.methods = {methods};
    this.webhookMethods = {{ default: {{ checkExists, create, delete: remove }} }};
  }}

  /** One item per verified event; anything unsigned or tampered gets 401 and no run. */
  async webhook() {{
    const {{ secret }} = this.getWorkflowStaticData('node');
    const request = this.getRequestObject();
    // n8n keeps the exact bytes received in rawBody; the signature covers those bytes.
    const raw = request.rawBody ?? JSON.stringify(this.getBodyData());
    const rawBody = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw), 'utf8');
    const verdict = verifyStandardWebhook(secret, this.getHeaderData(), rawBody, Date.now() / 1000);
    if (!verdict.valid) {{
      this.getResponseObject().status(401).json({{ message: `Rejected: ${{verdict.reason}}` }});
      return {{ noWebhookResponse: true }};
    }}
    return {{ workflowData: [this.helpers.returnJsonArray(this.getBodyData())] }};
  }}
}}

module.exports = {{ {cls}, verifyStandardWebhook }};
"""


def _respond_constant(trigger: dict[str, Any]) -> dict[str, Any] | None:
    """What the runtime needs of the manifest trigger's ``respond``: the mode parameter and
    value, the events a responder takes and the time-budget field; null without one."""
    respond = trigger.get("respond")
    if not respond:
        return None
    return {
        "field": respond["mode"]["field"],
        "value": respond["mode"]["value"],
        "events": respond["events"],
        "timeout": respond.get("timeout_field"),
    }


def _package_json(source: ConnectorSource, names: Names, nodes: list[str], creds: str) -> str:
    manifest = source.manifest
    return _json(
        {
            "name": names.package,
            "version": manifest["version"],
            "description": manifest["description"],
            "keywords": ["n8n-community-node-package", "retell", "voice-agent", "phone-call"],
            "license": "MIT",
            # n8n's installer runs `npm install` in the unpacked package: no dependencies
            # (plain CommonJS, Node's own crypto), so nothing more is fetched.
            "dependencies": {},
            "files": ["dist", "examples"],
            "n8n": {"n8nNodesApiVersion": 1, "credentials": [creds], "nodes": nodes},
        }
    )


def _readme(source: ConnectorSource, names: Names) -> str:
    """Install steps for both ways n8n loads a community package (platforms.md §2)."""
    tarball = f"{names.package}-{source.manifest['version']}.tgz"
    return f"""# {names.package}

n8n community nodes for {names.label}: the **{names.label}** action node and the
**{names.label} Trigger**, generated from the connector's manifest.

## Install from npm (shows under Settings → Community nodes)

n8n's community-node installer takes a package from the npm registry by its name. Publish
this folder once (`npm publish`; the name must start with `n8n-nodes-` or
`@your-scope/n8n-nodes-`, so if `{names.package}` is taken use a scoped name in
`package.json`, and change the node types' prefix in `{EXAMPLE}` to match). Then, as the
n8n owner or an admin: **Settings → Community nodes → Install**, enter `{names.package}`
(or your scoped name), agree to the notice, and install. n8n downloads it, loads both nodes
and lists the package there, where it can later be updated or removed.

## Install by hand (self-hosted n8n without the installer)

```sh
npm pack                                  # here: writes {tarball}
mkdir -p ~/.n8n/nodes && cd ~/.n8n/nodes  # the folder may not exist yet
[ -f package.json ] || npm init -y        # npm installs into the nearest package.json
npm install /path/to/{tarball}
```

Restart n8n. The nodes appear in the nodes panel, but a package installed this way does
**not** appear under Settings → Community nodes (that list holds only what n8n's installer
put there): update or remove it with npm in `~/.n8n/nodes`, and restart n8n again.
(In Docker, `~/.n8n` is the volume mounted at `/home/node/.n8n`.)

## Use

Create a *{names.label} Connector API* credential with your connector's URL and one of its
API tokens. `{EXAMPLE}` is a ready workflow: import it with
`n8n import:workflow --input={EXAMPLE}`.
"""


def example_workflow(source: ConnectorSource, names: Names) -> dict[str, Any]:
    """Trigger (call analyzed) → Set node mapping the event id and every flat field."""
    trigger = the_trigger(source)
    events = [e["value"] for e in trigger["events"]]
    event = EXAMPLE_EVENT if EXAMPLE_EVENT in events else events[0]
    flat = source.schema(trigger["output"])["properties"]["flat"]["properties"]
    assignments = [
        {"name": "event_id", "value": "={{ $json.id }}", "type": "string"},
        {"name": "event", "value": "={{ $json.event }}", "type": "string"},
    ]
    for key, prop in flat.items():
        raw = prop.get("type", "string")
        kinds = [t for t in (raw if isinstance(raw, list) else [raw]) if t != "null"]
        assignments.append(
            {
                "name": key,
                "value": f"={{{{ $json.flat.{key} }}}}",
                "type": _SET_TYPES.get(kinds[0] if kinds else "string", "string"),
            }
        )
    trigger_name = f"{names.label} Trigger"
    set_name = "Sheet row"
    return {
        "id": "retellCallSheet1",
        "name": f"{names.label}: call analyzed → sheet row",
        "active": False,
        "nodes": [
            {
                "id": _uuid(names, "example/trigger"),
                "name": trigger_name,
                "type": f"{names.package}.{names.trigger}",
                "typeVersion": 1,
                "position": [0, 0],
                "webhookId": _uuid(names, "example/webhook"),
                "parameters": {"events": [event], "agent_id": ""},
                "credentials": {
                    names.credentials: {
                        "id": "retellConnectorCred1",
                        "name": f"{names.label} Connector account",
                    }
                },
            },
            {
                "id": _uuid(names, "example/set"),
                "name": set_name,
                **SET_NODE,
                "position": [240, 0],
                "parameters": {
                    "assignments": {
                        "assignments": [
                            {"id": _uuid(names, f"example/set/{a['name']}"), **a}
                            for a in assignments
                        ]
                    },
                    "options": {},
                },
            },
        ],
        "connections": {trigger_name: {"main": [[{"node": set_name, "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"},
        "staticData": None,
        "pinData": {},
        "meta": {"templateCredsSetupCompleted": False},
        "versionId": _uuid(names, "example/version"),
        "tags": [],
    }


def package_files(source: ConnectorSource) -> dict[str, str]:
    """Every file of the package, by relative path."""
    names = Names.of(source.manifest)
    creds = f"dist/credentials/{names.credentials_class}.credentials.js"
    action = f"dist/nodes/{names.node_class}/{names.node_class}.node.js"
    trigger = f"dist/nodes/{names.trigger_class}/{names.trigger_class}.node.js"
    return {
        "package.json": _package_json(source, names, [action, trigger], creds),
        "README.md": _readme(source, names),
        creds: _credentials_js(source, names),
        action: _action_js(source, names),
        trigger: _trigger_js(source, names),
        EXAMPLE: _json(example_workflow(source, names)),
    }


def export(source: ConnectorSource, out: Path) -> list[Path]:
    """Write the n8n package under ``out``; the written files."""
    written = []
    for relative, text in package_files(source).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
