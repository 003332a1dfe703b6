"""The n8n export: a community-node package checked by n8n-workflow's own helpers in Node,
its trigger's webhook methods run against the real connector, and its signature check
against the standardwebhooks library."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.platforms import export
from connector.platforms.fields import input_fields
from connector.platforms.n8n.js import Js
from connector.platforms.n8n.nodes import (
    ADDITIONAL_FIELDS,
    Names,
    action_node,
    credentials_type,
    trigger_node,
)
from connector.platforms.n8n.package import EXAMPLE, example_workflow, package_files
from connector.platforms.source import ConnectorSource, load_source
from connector.samples import sample_events
from tests.conftest import AUTH, TOKEN, FakeRetell, make_settings
from tests.platforms.conftest import run_node

BASE_URL = "https://connector.example.com"
SECRET = "whsec_" + base64.b64encode(b"n8n-trigger-test-secret-32bytes!").decode()
ACTION = "dist/nodes/RetellConnector/RetellConnector.node.js"
TRIGGER = "dist/nodes/RetellConnectorTrigger/RetellConnectorTrigger.node.js"
CREDENTIALS = "dist/credentials/RetellConnectorApi.credentials.js"
FILLED_CREATE = {
    "resource": "call",
    "operation": "createPhoneCall",
    "from_number": "+14157774444",
    "to_number": "+12137774445",
    ADDITIONAL_FIELDS: {
        "retell_llm_dynamic_variables": {"pairs": [{"name": "customer_name", "value": "Jane"}]},
        "metadata": {"pairs": [{"name": "lead_id", "value": "L-1042"}]},
        "agent_override": '{"agent": {"voice_id": "11labs-Adrian"}}',
        "honor_internal_dnc": True,
    },
}


@pytest.fixture(scope="module")
def source() -> ConnectorSource:
    return load_source(BASE_URL)


@pytest.fixture(scope="module")
def names(source: ConnectorSource) -> Names:
    return Names.of(source.manifest)


@pytest.fixture(scope="module")
def package(source: ConnectorSource, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("n8n")
    export("n8n", out, source=source)
    return out


@pytest.fixture
def broken(package: Path, tmp_path: Path) -> Path:
    """A copy of the package for a test to break."""
    return Path(shutil.copytree(package, tmp_path / "package"))


def _break(package: Path, file: str, old: str, new: str) -> None:
    path = package / file
    text = path.read_text()
    assert old in text, f"{old!r} is not in {file}: the breaking edit is stale"
    path.write_text(text.replace(old, new, 1))


def _names_shown_for(node: dict[str, Any], operation: str) -> set[str]:
    names: set[str] = set()
    for prop in node["properties"]:
        if operation not in prop.get("displayOptions", {}).get("show", {}).get("operation", []):
            continue
        inner = prop["options"] if prop["type"] == "collection" else [prop]
        names.update(p["name"] for p in inner)
    return names


def _json_view(value: Any) -> Any:
    """What JSON.stringify makes of description data: functions become null in arrays."""
    if isinstance(value, Js):
        return None
    if isinstance(value, dict):
        return {k: _json_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_view(v) for v in value]
    return value


# --- Python-side: the package says what the manifest says -------------------------------


def test_package_json_declares_the_n8n_block(package: Path) -> None:
    """package.json has the n8n block, the community keyword and existing dist files."""
    meta = json.loads((package / "package.json").read_text())
    assert meta["name"].startswith("n8n-nodes-")
    assert "n8n-community-node-package" in meta["keywords"]
    assert meta["n8n"]["n8nNodesApiVersion"] == 1
    listed = meta["n8n"]["credentials"] + meta["n8n"]["nodes"]
    assert listed == [CREDENTIALS, ACTION, TRIGGER]
    assert all((package / path).is_file() for path in listed)


def _installer_accepts(name: str) -> bool:
    """n8n's community installer's name check (CommunityPackagesService.parseNpmPackageName)."""
    if re.search(r"[^0-9a-z@\-._/]", name):
        return False
    bare = name.split("/", 1)[1] if "/" in name else name
    return bare.startswith("n8n-nodes-")


def test_npm_pack_ships_what_the_installer_loads(package: Path) -> None:
    """npm pack (what the registry serves and the installer unpacks) holds every file the n8n
    block lists, under a name the installer takes, with nothing more to install."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    packed = subprocess.run(
        ["npm", "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (tarball,) = json.loads(packed.stdout)
    files = {f["path"] for f in tarball["files"]}
    meta = json.loads((package / "package.json").read_text())
    assert _installer_accepts(tarball["name"])
    assert {*meta["n8n"]["credentials"], *meta["n8n"]["nodes"], EXAMPLE, "README.md"} <= files
    assert not meta.get("dependencies") and "peerDependencies" not in meta


@pytest.mark.parametrize("name", ["n8n-nodes-retell-connector", "@acme/n8n-nodes-retell-connector"])
def test_installer_name_rule(name: str) -> None:
    """The copied name rule accepts what n8n accepts."""
    assert _installer_accepts(name)


@pytest.mark.parametrize("name", ["retell-connector", "n8n-nodes-Retell", "@acme/retell"])
def test_installer_name_rule_refuses(name: str) -> None:
    """…and refuses what n8n refuses."""
    assert not _installer_accepts(name)


@pytest.mark.parametrize(
    "step",
    [
        "mkdir -p ~/.n8n/nodes",
        "does **not** appear under Settings → Community nodes",
        "**Settings → Community nodes → Install**, enter `n8n-nodes-retell-connector`",
    ],
    ids=["create-nodes-folder", "hand-installed-not-listed", "installer-by-name"],
)
def test_readme_install_steps(package: Path, step: str) -> None:
    """The package README says to create ~/.n8n/nodes, that a hand-installed package is not
    listed under Community nodes, and how to install by npm name."""
    assert step in " ".join((package / "README.md").read_text().split())


def test_export_returns_every_file_it_writes(source: ConnectorSource, tmp_path: Path) -> None:
    """export() returns exactly the files it wrote."""
    written = export("n8n", tmp_path, source=source)
    on_disk = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert set(written) == on_disk
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(package_files(source))


def test_export_is_deterministic(source: ConnectorSource) -> None:
    """An unchanged manifest exports byte-identical files (ids are derived, not random)."""
    assert package_files(source) == package_files(load_source(BASE_URL))


@pytest.mark.parametrize("action_index", [0, 1], ids=["create_phone_call", "get_call"])
def test_every_input_field_is_a_parameter(
    source: ConnectorSource, names: Names, action_index: int
) -> None:
    """Each input schema field is a parameter shown for its operation, and nothing else is."""
    action = source.manifest["actions"][action_index]
    node = action_node(source, names)
    operation = "createPhoneCall" if action_index == 0 else "getCall"
    expected = set(source.schema(action["input"])["properties"])
    assert _names_shown_for(node, operation) - {ADDITIONAL_FIELDS} == expected


@pytest.mark.parametrize("action_index", [0, 1], ids=["create_phone_call", "get_call"])
def test_required_fields_are_required_top_level_parameters(
    source: ConnectorSource, names: Names, action_index: int
) -> None:
    """Schema-required fields are top-level and required; optional ones never are."""
    action = source.manifest["actions"][action_index]
    required = {f.key for f in input_fields(source.schema(action["input"])) if f.required}
    top = {p["name"] for p in action_node(source, names)["properties"] if p.get("required")}
    assert required <= top
    assert top.isdisjoint(
        {f.key for f in input_fields(source.schema(action["input"])) if not f.required}
    )


def test_operations_route_to_the_manifest_paths(source: ConnectorSource, names: Names) -> None:
    """Each operation's request is the manifest action's method and path (a path with a
    {name} part is an expression, see test_path_parts_are_filled_by_n8n)."""
    operations = [p for p in action_node(source, names)["properties"] if p["name"] == "operation"]
    routes = {o["name"]: o["routing"]["request"] for p in operations for o in p["options"]}
    plain = {a["label"]: a for a in source.manifest["actions"] if "{" not in a["path"]}
    assert {label: routes[label] for label in plain} == {
        label: {"method": a["method"], "url": a["path"]} for label, a in plain.items()
    }
    assert len(routes) == len(source.manifest["actions"])


# n8n's own expression engine renders an operation's URL from the node's parameters.
REQUEST_URL = """
const path = require('node:path');
const { Workflow } = require('n8n-workflow');
const [dir, file, operation, parameters] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const type = new mod.RetellConnector();
const node = { id: '1', name: 'node', type: 'x', typeVersion: 1, position: [0, 0],
  parameters: JSON.parse(parameters) };
const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) };
const workflow = new Workflow({ id: 'w', nodes: [node], connections: {}, active: false, nodeTypes });
const options = type.description.properties.filter((p) => p.name === 'operation')
  .flatMap((p) => p.options);
const { url, method } = options.find((o) => o.value === operation).routing.request;
const rendered = workflow.expression.getParameterValue(
  url, null, 0, 0, 'node', [], 'manual', {}, undefined, false);
const shown = type.description.properties
  .filter((p) => (p.displayOptions?.show?.operation || []).includes(operation))
  .map((p) => ({ name: p.name, required: !!p.required, routed: p.routing !== undefined }));
console.log(JSON.stringify({ method, url: rendered, shown }));
"""


@pytest.mark.parametrize(
    ("operation", "method"), [("saveCallerContext", "PUT"), ("deleteCallerContext", "DELETE")]
)
def test_path_parts_are_filled_by_n8n(
    node_modules: Path, package: Path, operation: str, method: str
) -> None:
    """The caller's number goes into the path, URL-encoded (a + stays a +), as a required
    parameter that is not also sent in the body."""
    parameters = {
        "resource": "callerContext",
        "operation": operation,
        "phone_number": " +14155550142",
    }
    found = run_node(
        node_modules, REQUEST_URL, str(package), ACTION, operation, json.dumps(parameters)
    )
    assert (found["method"], found["url"]) == (method, "/v1/inbound/contacts/%2B14155550142")
    (number,) = [p for p in found["shown"] if p["name"] == "phone_number"]
    assert number == {"name": "phone_number", "required": True, "routed": False}


def _fields_of(props: list[dict[str, Any]], operation: str) -> list[dict[str, Any]]:
    """The parameters one operation shows, those in its Additional Fields included."""
    shown = [
        p
        for p in props
        if operation in p.get("displayOptions", {}).get("show", {}).get("operation", [])
    ]
    return [q for p in shown for q in (p["options"] if p["type"] == "collection" else [p])]


@pytest.mark.parametrize(
    ("field", "url"),
    [("from_number", "/v1/options/phone-numbers"), ("override_agent_id", "/v1/options/agents")],
)
def test_dropdowns_load_options_from_the_connector(
    source: ConnectorSource, names: Names, field: str, url: str
) -> None:
    """Fields with an options source are dropdowns routed to that options endpoint."""
    props = action_node(source, names)["properties"]
    (prop,) = [p for p in _fields_of(props, "createPhoneCall") if p["name"] == field]
    assert prop["type"] == "options"
    assert prop["typeOptions"]["loadOptions"]["routing"]["request"] == {"method": "GET", "url": url}


def test_agent_version_dropdown_depends_on_the_agent(source: ConnectorSource, names: Names) -> None:
    """Agent version loads the chosen agent's versions and reloads when Agent changes."""
    props = action_node(source, names)["properties"]
    fields = _fields_of(props, "createPhoneCall")
    (prop,) = [p for p in fields if p["name"] == "override_agent_version"]
    assert prop["typeOptions"]["loadOptions"]["routing"]["request"] == {
        "method": "GET",
        "url": "/v1/options/agent-versions",
        "qs": {"agent_id": f'={{{{$parameter["{ADDITIONAL_FIELDS}"]["override_agent_id"]}}}}'},
    }
    assert prop["typeOptions"]["loadOptionsDependsOn"] == [f"{ADDITIONAL_FIELDS}.override_agent_id"]


# n8n's own expression engine resolves the dropdown's query against the node's parameters.
DEPENDENT_QS = """
const path = require('node:path');
const { Workflow } = require('n8n-workflow');
const [dir, file, parameters] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const type = new mod.RetellConnector();
const node = { id: '1', name: 'node', type: 'x', typeVersion: 1, position: [0, 0],
  parameters: JSON.parse(parameters) };
const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) };
const workflow = new Workflow({ id: 'w', nodes: [node], connections: {}, active: false, nodeTypes });
const fields = type.description.properties.flatMap((p) => p.type === 'collection' ? p.options : [p]);
const qs = fields.find((p) => p.name === 'override_agent_version')
  .typeOptions.loadOptions.routing.request.qs;
console.log(JSON.stringify(Object.fromEntries(Object.entries(qs).map(([k, v]) =>
  [k, workflow.expression.getParameterValue(v, null, 0, 0, 'node', [], 'manual', {}, undefined, false)]))));
"""


def test_agent_version_query_reads_the_agent_field(node_modules: Path, package: Path) -> None:
    """With an agent chosen, n8n sends its id as the agent-version dropdown's agent_id."""
    parameters = {**FILLED_CREATE, ADDITIONAL_FIELDS: {"override_agent_id": "agent_5b8f"}}
    found = run_node(node_modules, DEPENDENT_QS, str(package), ACTION, json.dumps(parameters))
    assert found == {"agent_id": "agent_5b8f"}


def test_idempotency_key_is_a_header_option_with_a_default(
    source: ConnectorSource, names: Names
) -> None:
    """The manifest's idempotency field is sent as its header; empty by default, so the node
    derives the key (an expression could not name the n8n installation)."""
    props = action_node(source, names)["properties"]
    (prop,) = [p for p in _fields_of(props, "createPhoneCall") if p["name"] == "idempotency_key"]
    assert prop["default"] == ""
    assert prop["routing"]["send"]["preSend"] == [
        Js('sendIdempotencyKey("idempotency_key", "Idempotency-Key")')
    ]


def test_every_trigger_event_is_an_option(source: ConnectorSource, names: Names) -> None:
    """The events multi-select offers every manifest event, defaulting to the default ones."""
    (trigger,) = source.manifest["triggers"]
    (events,) = [p for p in trigger_node(source, names)["properties"] if p["name"] == "events"]
    assert events["type"] == "multiOptions"
    assert [o["value"] for o in events["options"]] == [e["value"] for e in trigger["events"]]
    assert events["default"] == [e["value"] for e in trigger["events"] if e.get("default")]


def test_trigger_has_an_agent_filter_dropdown(source: ConnectorSource, names: Names) -> None:
    """The agent filter is a dropdown loaded by a method, optional."""
    props = trigger_node(source, names)["properties"]
    (agent,) = [p for p in props if p["name"] == "agent_id"]
    assert agent["typeOptions"] == {"loadOptionsMethod": "getAgents"}
    assert not agent.get("required")


def test_credentials_send_a_bearer_token_and_test_with_me(
    source: ConnectorSource, names: Names
) -> None:
    """The credential type authenticates with Authorization: Bearer and tests GET /v1/me."""
    creds = credentials_type(source, names)
    headers = creds["authenticate"]["properties"]["headers"]
    assert headers == {"Authorization": "=Bearer {{$credentials.apiToken}}"}
    assert creds["test"]["request"]["url"] == "/v1/me"
    assert creds["properties"][0]["default"] == BASE_URL


def test_unsupported_auth_is_refused(source: ConnectorSource, names: Names) -> None:
    """A manifest whose auth is not a bearer token cannot be exported silently wrong."""
    manifest = copy.deepcopy(source.manifest)
    manifest["auth"]["type"] = "api_key"
    other = ConnectorSource(manifest, source.schemas, source.base_url)
    with pytest.raises(ValueError, match="bearer"):
        credentials_type(other, names)


def test_example_maps_every_flat_field(source: ConnectorSource, names: Names) -> None:
    """The example's Set node maps the event id and every flat field of call-event.json."""
    workflow = example_workflow(source, names)
    (set_node,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.set"]
    mapped = {a["name"] for a in set_node["parameters"]["assignments"]["assignments"]}
    flat = source.schemas["call-event.json"]["properties"]["flat"]["properties"]
    assert mapped == {"event_id", "event", *flat}


# --- Node: the package loads and passes n8n's own checks ----------------------------------

LOAD = """
const path = require('node:path');
const [dir, file] = process.argv.slice(1);
const exported = require(path.join(dir, file));
const name = path.basename(file).replace(/\\.(node|credentials)\\.js$/, '');
const instance = new exported[name]();
const described = instance.description || instance;
console.log(JSON.stringify({ name, description: described }));
"""


@pytest.mark.parametrize("file", [CREDENTIALS, ACTION, TRIGGER])
def test_dist_file_loads_in_node(node_modules: Path, package: Path, file: str) -> None:
    """Each dist file requires cleanly and exports its class with a description."""
    loaded = run_node(node_modules, LOAD, str(package), file)
    assert loaded["description"]["name"]
    assert loaded["description"]["properties"]


@pytest.mark.parametrize(
    ("file", "build"),
    [(CREDENTIALS, credentials_type), (ACTION, action_node), (TRIGGER, trigger_node)],
    ids=["credentials", "action", "trigger"],
)
def test_loaded_description_is_the_checked_one(
    node_modules: Path, package: Path, source: ConnectorSource, names: Names, file: str, build: Any
) -> None:
    """What Node loads equals what the Python-side tests check (functions aside)."""
    loaded = run_node(node_modules, LOAD, str(package), file)["description"]
    assert loaded == _json_view(build(source, names))


STRUCTURE = """
const fs = require('node:fs');
const path = require('node:path');
const [dir] = process.argv.slice(1);
// The property types n8n knows, read from the pinned n8n-workflow's interfaces.
const interfaces = fs.readFileSync(
  path.join(process.env.NODE_PATH, 'n8n-workflow/dist/esm/interfaces.d.ts'), 'utf8');
const TYPES = new Set(interfaces.match(/export type NodePropertyTypes = ([^;]+);/)[1]
  .match(/'([^']+)'/g).map((s) => s.slice(1, -1)));
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const errors = [];

function load(file, suffix) {
  const exported = require(path.join(dir, file));
  const name = path.basename(file, suffix);
  if (typeof exported[name] !== 'function') {
    errors.push(`${file}: does not export class ${name}`);
    return undefined;
  }
  return new exported[name]();
}

function checkProperties(file, list, top, methods, where) {
  const topNames = new Set(top.map((p) => p.name));
  for (const p of list) {
    const at = `${file}: ${where}${p.name}`;
    if (!TYPES.has(p.type)) errors.push(`${at}: unknown type "${p.type}"`);
    if (!('default' in p)) errors.push(`${at}: no default`);
    if (!p.displayName) errors.push(`${at}: no displayName`);
    if (p.type === 'options' || p.type === 'multiOptions') {
      const method = p.typeOptions?.loadOptionsMethod;
      const routed = p.typeOptions?.loadOptions?.routing;
      if (!Array.isArray(p.options) && !method && !routed) errors.push(`${at}: no options`);
      if (method && typeof methods.loadOptions?.[method] !== 'function') {
        errors.push(`${at}: loadOptionsMethod "${method}" is not implemented`);
      }
      if (routed && !routed.request?.url) errors.push(`${at}: loadOptions routing has no url`);
      if (Array.isArray(p.options) && !routed && !method) {
        const values = p.options.map((o) => o.value);
        for (const v of [].concat(p.default)) {
          if (!values.includes(v)) errors.push(`${at}: default "${v}" is not an option`);
        }
      }
    }
    for (const kind of ['show', 'hide']) {
      for (const [name, values] of Object.entries(p.displayOptions?.[kind] || {})) {
        if (!topNames.has(name)) {
          errors.push(`${at}: displayOptions.${kind} refers to unknown parameter "${name}"`);
        }
        if (!Array.isArray(values)) errors.push(`${at}: displayOptions.${kind}.${name} is not a list`);
      }
    }
    const send = p.routing?.send;
    if (send?.type && !['body', 'query'].includes(send.type)) errors.push(`${at}: send.type`);
    for (const hook of send?.preSend || []) {
      if (typeof hook !== 'function') errors.push(`${at}: preSend entry is not a function`);
    }
    if (p.type === 'collection') checkProperties(file, p.options || [], top, methods, `${p.name}.`);
    if (p.type === 'fixedCollection') {
      for (const group of p.options || []) {
        checkProperties(file, group.values || [], group.values || [], methods, `${p.name}.`);
      }
    }
  }
}

const credentials = new Set();
for (const file of pkg.n8n.credentials) {
  const c = load(file, '.credentials.js');
  if (!c) continue;
  for (const key of ['name', 'displayName', 'properties']) if (!c[key]) errors.push(`${file}: no ${key}`);
  if (c.authenticate && c.authenticate.type !== 'generic') errors.push(`${file}: authenticate.type`);
  credentials.add(c.name);
  checkProperties(file, c.properties, c.properties, {}, '');
}
for (const file of pkg.n8n.nodes) {
  const node = load(file, '.node.js');
  if (!node) continue;
  const d = node.description;
  for (const key of ['displayName', 'name', 'group', 'version', 'description', 'defaults',
                     'inputs', 'outputs', 'properties']) {
    if (d[key] === undefined) errors.push(`${file}: description has no ${key}`);
  }
  for (const c of d.credentials || []) {
    if (!credentials.has(c.name)) errors.push(`${file}: credentials "${c.name}" are not in the package`);
  }
  if ((d.group || []).includes('trigger')) {
    if (!['webhook', 'poll', 'trigger'].some((m) => typeof node[m] === 'function')) {
      errors.push(`${file}: a trigger needs webhook(), poll() or trigger()`);
    }
    for (const m of d.webhooks ? ['checkExists', 'create', 'delete'] : []) {
      if (typeof node.webhookMethods?.default?.[m] !== 'function') {
        errors.push(`${file}: webhookMethods.default.${m} is missing`);
      }
    }
  } else if (typeof node.execute !== 'function' && !d.requestDefaults) {
    errors.push(`${file}: neither execute() nor declarative requestDefaults`);
  }
  checkProperties(file, d.properties, d.properties, node.methods || {}, '');
}
console.log(JSON.stringify(errors));
"""


def test_package_passes_the_structural_checks(node_modules: Path, package: Path) -> None:
    """Types, defaults, options, displayOptions, credentials and trigger methods are sound."""
    assert run_node(node_modules, STRUCTURE, str(package)) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "error"),
    [
        (ACTION, '"type": "string"', '"type": "text"', 'unknown type "text"'),
        (ACTION, '"default": "call",', "", "resource: no default"),
        (ACTION, '"resource": [', '"resources": [', 'unknown parameter "resources"'),
        (TRIGGER, "delete: remove", "remove", "webhookMethods.default.delete is missing"),
        (TRIGGER, '"getAgents"', '"getAgent"', 'loadOptionsMethod "getAgent" is not'),
        (CREDENTIALS, '"name": "retellConnectorApi"', '"name": "other"', "not in the package"),
    ],
    ids=["unknown-type", "no-default", "dangling-display", "no-delete", "no-method", "no-creds"],
)
def test_broken_package_is_rejected(
    node_modules: Path, broken: Path, file: str, old: str, new: str, error: str
) -> None:
    """A deliberately broken export fails the structural checks with a clear message."""
    _break(broken, file, old, new)
    errors = run_node(node_modules, STRUCTURE, str(broken))
    assert any(error in e for e in errors), errors


ISSUES = """
const path = require('node:path');
const { NodeHelpers } = require('n8n-workflow');
const [dir, file, parameters] = process.argv.slice(1);
const exported = require(path.join(dir, file));
const d = new exported[path.basename(file, '.node.js')]().description;
const node = { id: '1', name: 'node', type: d.name, typeVersion: 1, position: [0, 0],
               parameters: JSON.parse(parameters) };
const params = NodeHelpers.getNodeParameters(d.properties, node.parameters, true, false, node, d);
const issues = NodeHelpers.getNodeParametersIssues(d.properties, { ...node, parameters: params }, d);
console.log(JSON.stringify(issues));
"""


@pytest.mark.parametrize(
    "parameters",
    [
        FILLED_CREATE,
        {k: v for k, v in FILLED_CREATE.items() if k != ADDITIONAL_FIELDS},
        {"resource": "call", "operation": "getCall", "call_id": "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6"},
    ],
    ids=["create-all-fields", "create-required-only", "find-call"],
)
def test_filled_action_has_no_parameter_issues(
    node_modules: Path, package: Path, parameters: dict[str, Any]
) -> None:
    """n8n-workflow reports no parameter issues for a filled-in operation."""
    assert run_node(node_modules, ISSUES, str(package), ACTION, json.dumps(parameters)) is None


@pytest.mark.parametrize(
    ("missing", "label"),
    [("from_number", "From number"), ("to_number", "To number")],
)
def test_missing_required_field_is_an_issue(
    node_modules: Path, package: Path, missing: str, label: str
) -> None:
    """n8n-workflow reports a required Create Phone Call field that is left empty."""
    parameters = {k: v for k, v in FILLED_CREATE.items() if k != missing}
    issues = run_node(node_modules, ISSUES, str(package), ACTION, json.dumps(parameters))
    assert issues == {"parameters": {missing: [f'Parameter "{label}" is required.']}}


def test_trigger_defaults_have_no_parameter_issues(node_modules: Path, package: Path) -> None:
    """The trigger as dropped on the canvas (defaults only) has no parameter issues."""
    assert run_node(node_modules, ISSUES, str(package), TRIGGER, "{}") is None


WORKFLOW = """
const fs = require('node:fs');
const path = require('node:path');
const { NodeHelpers, Workflow, safeParseWorkflowStructure, formatWorkflowStructureIssuePath,
        validateWorkflowHasTriggerLikeNode, validateNodeCredentials } = require('n8n-workflow');
const [dir, workflowFile] = process.argv.slice(1);
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
const types = {};
for (const file of pkg.n8n.nodes) {
  const type = new (require(path.join(dir, file))[path.basename(file, '.node.js')])();
  types[`${pkg.name}.${type.description.name}`] = type;
}
const nodeTypes = { getByName: (n) => types[n], getByNameAndVersion: (n) => types[n],
                    getKnownTypes: () => ({}) };
const wf = JSON.parse(fs.readFileSync(workflowFile, 'utf8'));
const errors = [];
const structure = safeParseWorkflowStructure(wf);
if (!structure.success) {
  for (const i of structure.issues) errors.push(`${formatWorkflowStructureIssuePath(i.path)}: ${i.message}`);
} else {
  for (const original of wf.nodes) {
    const node = JSON.parse(JSON.stringify(original));
    const type = types[node.type];
    if (!type) {
      if (!node.type.startsWith('n8n-nodes-base.')) errors.push(`${node.name}: unknown node type ${node.type}`);
      continue;
    }
    const d = type.description;
    if (d.webhooks && !node.webhookId) errors.push(`${node.name}: a webhook node needs a webhookId`);
    const params = NodeHelpers.getNodeParameters(d.properties, node.parameters, true, false, node, d);
    const issues = NodeHelpers.getNodeParametersIssues(d.properties, { ...node, parameters: params }, d);
    for (const messages of Object.values(issues?.parameters || {})) {
      errors.push(...messages.map((m) => `${node.name}: ${m}`));
    }
    for (const c of validateNodeCredentials(node, type)) {
      errors.push(`${node.name}: credentials ${c.credentialName} ${c.type}`);
    }
  }
  const workflow = new Workflow({ id: wf.id, name: wf.name, nodes: wf.nodes,
    connections: wf.connections, active: false, nodeTypes, settings: wf.settings });
  const trigger = validateWorkflowHasTriggerLikeNode(workflow.nodes, nodeTypes);
  if (!trigger.isValid) errors.push(trigger.error);
  const starts = Object.values(workflow.nodes).filter((n) => types[n.type]?.webhook);
  const reached = new Set(starts.flatMap((n) => [n.name, ...workflow.getChildNodes(n.name)]));
  for (const name of Object.keys(workflow.nodes)) {
    if (!reached.has(name)) errors.push(`${name}: not connected to a trigger`);
  }
}
console.log(JSON.stringify(errors));
"""


def _write_workflow(tmp_path: Path, workflow: dict[str, Any]) -> str:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow))
    return str(path)


def test_example_workflow_passes_the_workflow_checks(node_modules: Path, package: Path) -> None:
    """The example passes n8n-workflow's structure, trigger, credential and parameter checks."""
    assert run_node(node_modules, WORKFLOW, str(package), str(package / EXAMPLE)) == []


def _dangling(wf: dict[str, Any]) -> None:
    wf["connections"]["Retell AI Trigger"]["main"][0][0]["node"] = "Nope"


def _duplicate(wf: dict[str, Any]) -> None:
    wf["nodes"][1]["name"] = wf["nodes"][0]["name"]


def _no_webhook_id(wf: dict[str, Any]) -> None:
    del wf["nodes"][0]["webhookId"]


def _no_credentials(wf: dict[str, Any]) -> None:
    del wf["nodes"][0]["credentials"]


def _unknown_type(wf: dict[str, Any]) -> None:
    wf["nodes"][0]["type"] = "n8n-nodes-retell-connector.nope"


def _disconnected(wf: dict[str, Any]) -> None:
    wf["connections"] = {}


@pytest.mark.parametrize(
    ("breaking", "error"),
    [
        (_dangling, 'Connection target "Nope" does not reference an existing node'),
        (_duplicate, "Duplicate node name"),
        (_no_webhook_id, "needs a webhookId"),
        (_no_credentials, "credentials retellConnectorApi missing"),
        (_unknown_type, "unknown node type"),
        (_disconnected, "Sheet row: not connected to a trigger"),
    ],
    ids=["dangling", "duplicate", "no-webhook-id", "no-credentials", "unknown-type", "alone"],
)
def test_broken_workflow_is_rejected(
    node_modules: Path, package: Path, tmp_path: Path, breaking: Any, error: str
) -> None:
    """A deliberately broken example workflow fails the workflow checks."""
    workflow = json.loads((package / EXAMPLE).read_text())
    breaking(workflow)
    errors = run_node(node_modules, WORKFLOW, str(package), _write_workflow(tmp_path, workflow))
    assert any(error in e for e in errors), errors


EVALUATE = """
const { Workflow } = require('n8n-workflow');
const [values, item, keys] = process.argv.slice(1).map((a) => JSON.parse(a));
const node = { id: '1', name: 'node', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
const nodeTypes = { getByName: () => undefined, getByNameAndVersion: () => undefined,
                    getKnownTypes: () => ({}) };
const workflow = new Workflow({ id: 'w', nodes: [node], connections: {}, active: false, nodeTypes });
const out = values.map((v) => workflow.expression.getParameterValue(
  v, null, 0, 0, 'node', [{ json: item }], 'manual', keys, undefined, false));
console.log(JSON.stringify(out));
"""


def test_example_set_node_reads_the_event_fields(
    node_modules: Path, package: Path, source: ConnectorSource
) -> None:
    """n8n's expression engine turns a sample event into the mapped row."""
    workflow = json.loads((package / EXAMPLE).read_text())
    assignments = workflow["nodes"][1]["parameters"]["assignments"]["assignments"]
    event = sample_events(["call_analyzed"])[0]
    values = [a["value"] for a in assignments]
    row = run_node(node_modules, EVALUATE, json.dumps(values), json.dumps(event), "{}")
    flat = [event["flat"].get(a["name"]) for a in assignments[2:]]
    assert row == [event["id"], event["event"], *flat]


CHOICES = """
const path = require('node:path');
const { Workflow } = require('n8n-workflow');
const [dir, file, body] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const type = new mod.RetellConnector();
const node = { id: '1', name: 'node', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) };
const workflow = new Workflow({ id: 'w', nodes: [node], connections: {}, active: false, nodeTypes });
const steps = type.description.properties.find((p) => p.name === 'from_number')
  .typeOptions.loadOptions.routing.output.postReceive;
(async () => {
  let items = [{ json: JSON.parse(body) }];
  for (const step of steps) {
    if (typeof step === 'function') { items = await step(items, { body: JSON.parse(body) }); continue; }
    items = items.map((item) => ({ json: Object.fromEntries(Object.entries(step.properties).map(
      ([k, v]) => [k, workflow.expression.getParameterValue(v, null, 0, 0, 'node', [], 'manual',
        { $responseItem: item.json }, undefined, false)])) }));
  }
  console.log(JSON.stringify(items.map((i) => i.json)));
})();
"""


def test_dropdown_maps_value_label_to_name_value(node_modules: Path, package: Path) -> None:
    """The loadOptions postReceive chain turns [{value, label}] into n8n's [{name, value}]."""
    answer = [
        {"value": "+14157774444", "label": "+1 415-777-4444 · Sales line"},
        {"value": "+14155550100", "label": "+1 415-555-0100"},
    ]
    choices = run_node(node_modules, CHOICES, str(package), ACTION, json.dumps(answer))
    assert choices == [{"name": a["label"], "value": a["value"]} for a in answer]


# The error path as n8n runs it: the operation's postReceive throws, and RoutingNode wraps
# what was thrown in a NodeApiError with its message and description (routing-node.ts).
PROBLEM = """
const path = require('node:path');
const { NodeApiError } = require('n8n-workflow');
const [dir, file, operation, status, body] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const type = new mod.RetellConnector();
const options = type.description.properties.find((p) => p.name === 'operation').options;
const [surface] = options.find((o) => o.value === operation).routing.output.postReceive;
const node = { id: '1', name: 'Retell AI', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
(async () => {
  const items = [{ json: {} }];
  try {
    const parsed = JSON.parse(body);
    const answer = parsed && parsed.__raw__ !== undefined ? parsed.__raw__ : parsed;
    const passed = await surface(items, { statusCode: Number(status), body: answer });
    console.log(JSON.stringify({ passed: passed === items }));
  } catch (error) {
    const wrapped = new NodeApiError(node, error, {
      message: error?.message, description: error?.description, httpCode: 'none',
    });
    console.log(JSON.stringify({ message: wrapped.message, description: wrapped.description }));
  }
})();
"""

BAD_NUMBER = {
    "type": "https://retell-connector.dev/problems/validation-error",
    "title": "Invalid request",
    "status": 422,
    "detail": "The call was not placed: 1 field is invalid (to_number).",
    "message": "The call was not placed: 1 field is invalid (to_number). to_number must be …",
    "errors": [
        {"path": "to_number", "message": "must be a phone number in E.164 format, like +1415…"}
    ],
}


def _problem(node_modules: Path, package: Path, status: int, body: Any) -> dict[str, Any]:
    found: dict[str, Any] = run_node(
        node_modules,
        PROBLEM,
        str(package),
        ACTION,
        "createPhoneCall",
        str(status),
        json.dumps(body),
    )
    return found


def test_requests_let_error_answers_reach_post_receive(
    source: ConnectorSource, names: Names
) -> None:
    """Error answers are not thrown by n8n's HTTP helper, so the node can word them."""
    assert action_node(source, names)["requestDefaults"]["ignoreHttpStatusErrors"] is True


def test_field_error_reads_as_the_connectors_problem(node_modules: Path, package: Path) -> None:
    """A bad To number shows the detail and the field by its label in n8n's error, not n8n's
    generic "Your request is invalid or could not be processed by the service"."""
    error = _problem(node_modules, package, 422, BAD_NUMBER)
    assert error["message"] == (
        "The call was not placed: 1 field is invalid (to_number). To number [to_number] must "
        "be a phone number in E.164 format, like +1415…."
    )
    assert error["description"].splitlines() == [
        "To number [to_number] must be a phone number in E.164 format, like +1415…",
        "HTTP 422 (validation-error)",
    ]


@pytest.mark.parametrize(
    ("safe", "advice"),
    [(True, "turn on Retry On Fail"), (False, "Check the call list in Retell")],
)
def test_outcome_unknown_advice_is_in_n8n_terms(
    node_modules: Path, package: Path, safe: bool, advice: str
) -> None:
    """call-outcome-unknown says what is known, then what to do in n8n (no API jargon)."""
    body = {
        "type": "https://retell-connector.dev/problems/call-outcome-unknown",
        "title": "Call outcome unknown",
        "status": 502,
        "detail": "Retell did not answer. Retrying with the same Idempotency-Key is safe.",
        "cause": "Retell did not answer.",
        "retry_safe": safe,
    }
    error = _problem(node_modules, package, 502, body)
    assert error["message"].startswith("Retell did not answer. ")
    assert advice in error["message"]
    assert "Idempotency-Key" not in error["message"]


def test_problem_left_as_text_is_read_too(node_modules: Path, package: Path) -> None:
    """A problem body n8n hands over unparsed (text) reads the same as a parsed one."""
    error = _problem(node_modules, package, 422, {"__raw__": json.dumps(BAD_NUMBER)})
    assert "To number [to_number] must be a phone number" in error["message"]


def test_non_problem_error_points_at_the_connector_url(node_modules: Path, package: Path) -> None:
    """An answer that is not problem+json (a proxy's page) names the credential's URL."""
    error = _problem(node_modules, package, 404, "<html>Not Found</html>")
    assert error["message"] == "The connector answered HTTP 404."
    assert "Connector URL" in error["description"]


def test_success_passes_through(node_modules: Path, package: Path) -> None:
    """A 2xx answer goes on to the output untouched."""
    assert _problem(node_modules, package, 201, {"call_id": "c1"}) == {"passed": True}


PRE_SEND = """
const path = require('node:path');
const [dir, file, parameters] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const params = JSON.parse(parameters);
const get = (name, fallback) => name.split('.').reduce((v, k) => (v == null ? v : v[k]), params) ?? fallback;
const context = { getNodeParameter: get };
(async () => {
  let options = { body: {}, headers: { Accept: 'application/json' } };
  options = await mod.sendPairs('additionalFields.metadata', 'metadata').call(context, options);
  options = await mod.sendPairs('additionalFields.custom_sip_headers', 'custom_sip_headers').call(context, options);
  options = await mod.sendJson('additionalFields.agent_override', 'agent_override').call(context, options);
  console.log(JSON.stringify(options));
})();
"""


@pytest.mark.parametrize(
    ("parameters", "body", "headers"),
    [
        (
            {
                ADDITIONAL_FIELDS: {
                    "metadata": {"pairs": [{"name": "lead_id", "value": "L-1"}]},
                    "agent_override": '{"agent": {"voice_id": "v"}}',
                },
            },
            {"metadata": {"lead_id": "L-1"}, "agent_override": {"agent": {"voice_id": "v"}}},
            {"Accept": "application/json"},
        ),
        (
            {ADDITIONAL_FIELDS: {"metadata": {}, "agent_override": "{}"}},
            {},
            {"Accept": "application/json"},
        ),
    ],
    ids=["filled", "empty-values-left-out"],
)
def test_pre_send_shapes_the_request(
    node_modules: Path,
    package: Path,
    parameters: dict[str, Any],
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    """Pairs become objects, JSON text is parsed, blanks and empty objects are not sent."""
    options = run_node(node_modules, PRE_SEND, str(package), ACTION, json.dumps(parameters))
    assert options == {"body": body, "headers": headers}


CALLING_HOURS = """
const path = require('node:path');
const [dir, file, text] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const type = new mod.RetellConnector();
const fields = type.description.properties.flatMap((p) => (p.type === 'collection' ? p.options : [p]));
const hours = fields.find((p) => p.name === 'call_window');
const [preSend] = hours.routing.send.preSend;
const context = { getNodeParameter: () => text };
(async () => {
  try {
    console.log(JSON.stringify((await preSend.call(context, { body: {} })).body));
  } catch (error) {
    console.log(JSON.stringify({ error: error.message }));
  }
})();
"""


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("anytime", {"call_window": "anytime"}),
        ('{"start": "09:00", "end": "17:00"}', {"call_window": {"start": "09:00", "end": "17:00"}}),
        ("", {}),
    ],
    ids=["text", "object", "empty"],
)
def test_calling_hours_take_text_or_json(
    node_modules: Path, package: Path, text: str, sent: dict[str, Any]
) -> None:
    """Queue Phone Call's Calling hours is "anytime" or an object: text that is not JSON is
    sent as text, not refused as bad JSON."""
    assert run_node(node_modules, CALLING_HOURS, str(package), ACTION, text) == sent


# The idempotency key preSend in the context n8n gives it (IExecuteSingleFunctions): one
# call per context in argv, each {instance, workflow, node, execution, run, item, key}.
KEY = """
const path = require('node:path');
const [dir, file, contexts] = process.argv.slice(1);
const mod = require(path.join(dir, file));
const send = mod.sendIdempotencyKey('idempotency_key', 'Idempotency-Key');
(async () => {
  const keys = [];
  for (const c of JSON.parse(contexts)) {
    const context = {
      getNodeParameter: (name, fallback) => (name === 'idempotency_key' ? c.key : fallback),
      getInstanceId: () => c.instance,
      getWorkflow: () => ({ id: c.workflow, name: 'Calls', active: true }),
      getNode: () => ({ id: c.node, name: 'Retell AI' }),
      getExecutionId: () => c.execution,
      getItemIndex: () => c.item,
      getWorkflowDataProxy: () => ({ $runIndex: c.run }),
    };
    const options = await send.call(context, { headers: { Accept: 'application/json' } });
    keys.push(options.headers['Idempotency-Key']);
  }
  console.log(JSON.stringify(keys));
})();
"""
RUN_CONTEXT = {
    "instance": "5f0c…instance-A",
    "workflow": "wfCalls01",
    "node": "8d1f2c3a-0000-4000-8000-000000000001",
    "execution": "1",
    "run": 0,
    "item": 0,
    "key": "",
}


def _keys(node_modules: Path, package: Path, *contexts: dict[str, Any]) -> list[str]:
    found: list[str] = run_node(
        node_modules,
        KEY,
        str(package),
        ACTION,
        json.dumps([{**RUN_CONTEXT, **c} for c in contexts]),
    )
    return found


def test_default_key_is_the_same_when_n8n_retries_the_step(
    node_modules: Path, package: Path
) -> None:
    """Retry On Fail runs the step again in the same execution, run and item: same key."""
    first, retry = _keys(node_modules, package, {}, {})
    assert first == retry
    assert re.fullmatch(r"n8n-[0-9a-f]{40}", first)


@pytest.mark.parametrize(
    "changed",
    [
        {"instance": "another n8n installation"},
        {"workflow": "wfOther02"},
        {"node": "8d1f2c3a-0000-4000-8000-000000000002"},
        {"execution": "2"},
        {"run": 1},
        {"item": 1},
    ],
    ids=["installation", "workflow", "node", "execution", "run", "item"],
)
def test_default_key_differs_everywhere_else(
    node_modules: Path, package: Path, changed: dict[str, Any]
) -> None:
    """Execution 1, item 0 of another installation (staging beside production), workflow,
    node, execution, loop run or item is another call."""
    base, other = _keys(node_modules, package, {}, changed)
    assert base != other


def test_runs_without_an_execution_id_get_fresh_keys(node_modules: Path, package: Path) -> None:
    """A manual test run n8n gives no execution id never reuses another run's key."""
    first, second = _keys(node_modules, package, {"execution": ""}, {"execution": ""})
    assert first != second


def test_a_set_key_is_sent_as_is(node_modules: Path, package: Path) -> None:
    """A key from the user's data (a record ID) goes out unchanged, trimmed."""
    assert _keys(node_modules, package, {"key": " crm-L-1042 "}) == ["crm-L-1042"]


# --- Node: the trigger's signature check against the standardwebhooks library ------------

VERIFY = """
const path = require('node:path');
const [dir, file, secret, headers, body, now] = process.argv.slice(1);
const { verifyStandardWebhook } = require(path.join(dir, file));
const verdict = verifyStandardWebhook(secret, JSON.parse(headers), Buffer.from(body, 'utf8'),
  Number(now));
console.log(JSON.stringify(verdict));
"""

BODY = json.dumps(
    {"id": "evt_1", "event": "call_analyzed", "flat": {"call_summary": "José ✓"}},
    ensure_ascii=False,
)
NOW = datetime(2026, 11, 24, 17, 30, 0, tzinfo=UTC)


def _signed(
    secret: str = SECRET, body: str = BODY, at: datetime = NOW, msg_id: str = "evt_1"
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (_signed(), BODY.replace("José", "Jose"), "no matching signature"),
        (_signed(secret=OTHER_SECRET), BODY, "no matching signature"),
        (_signed(at=NOW - timedelta(minutes=6)), BODY, "timestamp"),
        ({**_signed(), "webhook-id": "evt_2"}, BODY, "no matching signature"),
        ({k: v for k, v in _signed().items() if k != "webhook-signature"}, BODY, "missing"),
    ],
    ids=["tampered-body", "wrong-secret", "too-old", "other-id", "unsigned"],
)
def test_trigger_rejects_a_bad_signature(
    node_modules: Path, package: Path, headers: dict[str, str], body: str, reason: str
) -> None:
    """A tampered, foreign, stale or unsigned delivery is rejected."""
    verdict = run_node(
        node_modules,
        VERIFY,
        str(package),
        TRIGGER,
        SECRET,
        json.dumps(headers),
        body,
        str(NOW.timestamp()),
    )
    assert verdict["valid"] is False
    assert reason in verdict["reason"]


@pytest.mark.parametrize(
    "headers",
    [
        _signed(),
        {**_signed(), "webhook-signature": f"v1,{'A' * 44} {_signed()['webhook-signature']}"},
        _signed(at=NOW - timedelta(minutes=4)),
    ],
    ids=["signed", "rotated-secret-list", "four-minutes-old"],
)
def test_trigger_accepts_a_standard_webhooks_signature(
    node_modules: Path, package: Path, headers: dict[str, str]
) -> None:
    """A delivery signed by the Python standardwebhooks library verifies in the node."""
    verdict = run_node(
        node_modules,
        VERIFY,
        str(package),
        TRIGGER,
        SECRET,
        json.dumps(headers),
        BODY,
        str(NOW.timestamp()),
    )
    assert verdict == {"valid": True}


WEBHOOK = """
const path = require('node:path');
const [dir, file, secret, headers, body] = process.argv.slice(1);
const { RetellConnectorTrigger } = require(path.join(dir, file));
const answered = {};
const context = {
  getWorkflowStaticData: () => ({ subscriptionId: 'sub_1', secret }),
  getRequestObject: () => ({ rawBody: Buffer.from(body, 'utf8') }),
  getHeaderData: () => JSON.parse(headers),
  getBodyData: () => JSON.parse(body),
  getResponseObject: () => ({
    status(code) { answered.status = code; return this; },
    json(data) { answered.body = data; return this; },
  }),
  helpers: { returnJsonArray: (data) => [].concat(data).map((json) => ({ json })) },
};
new RetellConnectorTrigger().webhook.call(context).then((result) => {
  console.log(JSON.stringify({ result, answered }));
});
"""


def test_webhook_emits_the_verified_event(node_modules: Path, package: Path) -> None:
    """A signed delivery starts the workflow with the event as the one item."""
    headers = {**_signed(at=datetime.now(UTC))}
    out = run_node(node_modules, WEBHOOK, str(package), TRIGGER, SECRET, json.dumps(headers), BODY)
    assert out == {"result": {"workflowData": [[{"json": json.loads(BODY)}]]}, "answered": {}}


def test_webhook_answers_401_to_a_forged_event(node_modules: Path, package: Path) -> None:
    """A forged delivery gets 401 and starts nothing."""
    headers = _signed(secret=OTHER_SECRET, at=datetime.now(UTC))
    out = run_node(node_modules, WEBHOOK, str(package), TRIGGER, SECRET, json.dumps(headers), BODY)
    assert out["result"] == {"noWebhookResponse": True}
    assert out["answered"]["status"] == 401


# --- Node: the trigger's webhook methods against the real connector ----------------------

HOOKS = """
const path = require('node:path');
const [dir, file, baseUrl, token, webhookUrl, parameters, state, steps] = process.argv.slice(1);
const { RetellConnectorTrigger } = require(path.join(dir, file));
const trigger = new RetellConnectorTrigger();
const staticData = JSON.parse(state);
const params = JSON.parse(parameters);
const requests = [];
// n8n's httpRequestWithAuthentication, reduced: generic bearer header, JSON, errors carry httpCode.
async function httpRequestWithAuthentication(credentialsName, options) {
  const credentials = await this.getCredentials(credentialsName);
  requests.push(`${options.method} ${new URL(options.url).pathname}`);
  const response = await fetch(options.url, {
    method: options.method,
    headers: { ...options.headers, Authorization: `Bearer ${credentials.apiToken}`,
               ...(options.body ? { 'Content-Type': 'application/json' } : {}) },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) throw Object.assign(new Error(answer.title), { httpCode: String(response.status) });
  return answer;
}
const context = {
  getCredentials: async () => ({ baseUrl, apiToken: token }),
  getNodeWebhookUrl: () => webhookUrl,
  getNodeParameter: (name, fallback) => (name in params ? params[name] : fallback),
  getWorkflowStaticData: () => staticData,
  helpers: { httpRequestWithAuthentication },
};
context.helpers.httpRequestWithAuthentication = httpRequestWithAuthentication.bind(context);
(async () => {
  const results = [];
  for (const step of steps.split(',')) {
    const method = step === 'getAgents' ? trigger.methods.loadOptions.getAgents
                                        : trigger.webhookMethods.default[step];
    results.push(await method.call(context));
  }
  console.log(JSON.stringify({ results, staticData, requests }));
})().catch((error) => { console.log(JSON.stringify({ error: error.message, requests })); });
"""

N8N_URL = "http://127.0.0.1:5678/webhook/3f1e0d2c-0000-4000-8000-000000000001/webhook"
SUBSCRIPTIONS = "/v1/triggers/call-events/subscriptions"


@pytest.fixture
def connector(tmp_path: Path, retell: FakeRetell) -> Iterator[httpx.Client]:
    """The real connector on loopback (SQLite, scripted Retell), allowing loopback targets."""
    retell.reply("GET", "/get-api-key-info", 200, {"org_name": "Acme", "api_key_name": "n8n"})
    agents = [{"agent_id": "agent_1", "agent_name": "Appointment setter", "version": 2}]
    retell.reply("POST", "/v2/list-agents", 200, {"items": agents, "has_more": False})
    settings = make_settings(tmp_path, connector_allow_private_targets=True)
    app = create_app(settings, retell_transport=retell.transport, configure_logs=False)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, headers=AUTH) as http:
        yield http


def _hooks(
    node_modules: Path,
    package: Path,
    connector: httpx.Client,
    steps: str,
    *,
    parameters: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> Any:
    return run_node(
        node_modules,
        HOOKS,
        str(package),
        TRIGGER,
        str(connector.base_url).rstrip("/"),
        TOKEN,
        N8N_URL,
        json.dumps(parameters or {"events": ["call_analyzed"], "agent_id": ""}),
        json.dumps(state or {}),
        steps,
    )


def _subscriptions(connector: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = connector.get(SUBSCRIPTIONS).json()["items"]
    return items


@pytest.mark.slow
def test_activation_subscribes_and_keeps_the_secret(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """checkExists → create subscribes the webhook URL and stores the id and secret."""
    out = _hooks(node_modules, package, connector, "checkExists,create")
    assert out["results"] == [False, True]
    (subscription,) = _subscriptions(connector)
    assert subscription["target_url"] == N8N_URL
    assert subscription["events"] == ["call_analyzed"]
    assert out["staticData"]["subscriptionId"] == subscription["id"]
    assert out["staticData"]["secret"].startswith("whsec_")


@pytest.mark.slow
def test_check_exists_finds_the_stored_subscription(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """After create, checkExists is true and makes no new subscription."""
    out = _hooks(node_modules, package, connector, "create,checkExists")
    assert out["results"] == [True, True]
    assert len(_subscriptions(connector)) == 1


@pytest.mark.slow
def test_check_exists_is_false_when_the_connector_dropped_it(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """A subscription deleted on the connector's side is subscribed again on activation."""
    created = _hooks(node_modules, package, connector, "create")["staticData"]
    connector.delete(f"{SUBSCRIPTIONS}/{created['subscriptionId']}")
    out = _hooks(node_modules, package, connector, "checkExists", state=created)
    assert out["results"] == [False]


@pytest.mark.slow
def test_changed_filters_replace_the_subscription(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """With other events picked, checkExists deletes the old subscription for a new one."""
    created = _hooks(node_modules, package, connector, "create")["staticData"]
    parameters = {"events": ["call_ended"], "agent_id": ""}
    out = _hooks(
        node_modules,
        package,
        connector,
        "checkExists,create",
        parameters=parameters,
        state=created,
    )
    assert out["results"] == [False, True]
    assert [s["events"] for s in _subscriptions(connector)] == [["call_ended"]]


@pytest.mark.slow
def test_deactivation_unsubscribes(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """delete() removes the subscription on the connector and forgets the secret."""
    out = _hooks(node_modules, package, connector, "create,delete")
    assert out["results"] == [True, True]
    assert out["staticData"] == {}
    assert _subscriptions(connector) == []
    assert out["requests"][-1].startswith("DELETE ")


@pytest.mark.slow
def test_deactivation_of_an_already_deleted_subscription(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """delete() succeeds when the connector already removed the subscription (404)."""
    state = {"subscriptionId": "sub_gone", "secret": SECRET}
    out = _hooks(node_modules, package, connector, "delete", state=state)
    assert out["results"] == [True]
    assert out["staticData"] == {}


@pytest.mark.slow
def test_agent_filter_is_sent_when_set(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """A picked agent is subscribed as the agent_id filter."""
    parameters = {"events": ["call_analyzed"], "agent_id": "agent_1"}
    _hooks(node_modules, package, connector, "create", parameters=parameters)
    assert [s["agent_id"] for s in _subscriptions(connector)] == ["agent_1"]


@pytest.mark.slow
def test_agent_dropdown_lists_the_connector_agents(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """The trigger's agent dropdown offers "any agent" and then the connector's agents."""
    out = _hooks(node_modules, package, connector, "getAgents")
    (choices,) = out["results"]
    assert choices[0] == {"name": "Any agent", "value": ""}
    assert [c["value"] for c in choices[1:]] == ["agent_1"]


CREDENTIAL_TEST = """
const path = require('node:path');
const { Workflow } = require('n8n-workflow');
const [dir, file, baseUrl, token] = process.argv.slice(1);
const creds = new (require(path.join(dir, file)).RetellConnectorApi)();
const node = { id: '1', name: 'node', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
const nodeTypes = { getByName: () => undefined, getByNameAndVersion: () => undefined,
                    getKnownTypes: () => ({}) };
const workflow = new Workflow({ id: 'w', nodes: [node], connections: {}, active: false, nodeTypes });
const resolve = (value) => workflow.expression.getParameterValue(value, null, 0, 0, 'node', [],
  'manual', { $credentials: { baseUrl, apiToken: token } }, undefined, false);
const request = creds.test.request;
const headers = resolve(creds.authenticate.properties.headers);
fetch(new URL(request.url, resolve(request.baseURL)), { method: request.method, headers })
  .then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.json() })));
"""


@pytest.mark.slow
@pytest.mark.parametrize(("token", "status"), [(TOKEN, 200), ("wrong-token", 401)])
def test_credential_test_request_reaches_me(
    node_modules: Path, package: Path, connector: httpx.Client, token: str, status: int
) -> None:
    """The credential's test request, resolved by n8n's expression engine, hits /v1/me."""
    base = str(connector.base_url).rstrip("/")
    out = run_node(node_modules, CREDENTIAL_TEST, str(package), CREDENTIALS, base, token)
    assert out["status"] == status


# --- the responder mode (issue 13): answering inbound calls from the workflow ---------------

RESPONSE_MODE = """
const path = require('node:path');
const { Workflow } = require('n8n-workflow');
const [dir, file, parameters] = process.argv.slice(1);
const { RetellConnectorTrigger } = require(path.join(dir, file));
const type = new RetellConnectorTrigger();
const node = { id: '1', name: 'trigger', type: 'x', typeVersion: 1, position: [0, 0],
  parameters: JSON.parse(parameters) };
const nodeTypes = { getByName: () => type, getByNameAndVersion: () => type, getKnownTypes: () => ({}) };
const workflow = new Workflow({ id: 'w', nodes: [node], connections: {}, active: false, nodeTypes });
const [webhook] = type.description.webhooks;
// As n8n's webhook helper reads them: getSimpleParameterValue with 'onReceived' as fallback.
const value = (setting, fallback) =>
  workflow.expression.getSimpleParameterValue(node, setting, 'webhook', {}, undefined, fallback);
console.log(JSON.stringify({
  responseMode: value(webhook.responseMode, 'onReceived'),
  responseData: value(webhook.responseData, 'firstEntryJson'),
}));
"""


@pytest.mark.parametrize(
    ("parameters", "mode", "data"),
    [
        ({"mode": "respond"}, "lastNode", "firstEntryJson"),
        ({"mode": "deliver"}, "onReceived", "noData"),
        ({}, "onReceived", "noData"),
    ],
    ids=["responder", "events", "older-workflow"],
)
def test_responder_answers_with_the_last_node(
    node_modules: Path, package: Path, parameters: dict[str, Any], mode: str, data: str
) -> None:
    """In responder mode n8n answers the webhook with the first item of the workflow's last
    node (as its Webhook node's "When Last Node Finishes"); otherwise at once, empty. A
    workflow saved before the mode existed keeps receiving events."""
    found = run_node(node_modules, RESPONSE_MODE, str(package), TRIGGER, json.dumps(parameters))
    assert found == {"responseMode": mode, "responseData": data}


def test_responder_mode_hides_the_event_picker(source: ConnectorSource, names: Names) -> None:
    """Mode defaults to receiving events; answering inbound calls hides Events (a responder
    takes inbound calls only) and shows the answer time, bounded as the connector bounds it."""
    props = {p["name"]: p for p in trigger_node(source, names)["properties"]}
    assert props["mode"]["default"] == "deliver"
    assert [o["value"] for o in props["mode"]["options"]] == ["deliver", "respond"]
    assert props["events"]["displayOptions"] == {"hide": {"mode": ["respond"]}}
    budget = props["respond_timeout_seconds"]
    assert budget["displayOptions"] == {"show": {"mode": ["respond"]}}
    assert (budget["default"], budget["typeOptions"]["maxValue"]) == (4, 8)


@pytest.mark.slow
def test_responder_activation_subscribes_in_respond_mode(
    node_modules: Path, package: Path, connector: httpx.Client
) -> None:
    """Activated as a responder, the node subscribes with mode respond for inbound calls only
    and its answer time; activation again finds it; back to events, it is replaced."""
    parameters = {"mode": "respond", "respond_timeout_seconds": 3, "agent_id": ""}
    out = _hooks(node_modules, package, connector, "checkExists,create", parameters=parameters)
    assert out["results"] == [False, True]
    (subscription,) = _subscriptions(connector)
    assert subscription["events"] == ["call_inbound"]
    assert (subscription["mode"], subscription["respond_timeout_seconds"]) == ("respond", 3)
    again = _hooks(
        node_modules, package, connector, "checkExists", parameters=parameters,
        state=out["staticData"],
    )  # fmt: skip
    assert again["results"] == [True]
    events = {"mode": "deliver", "events": ["call_analyzed"], "agent_id": ""}
    back = _hooks(
        node_modules, package, connector, "checkExists,create", parameters=events,
        state=out["staticData"],
    )  # fmt: skip
    assert back["results"] == [False, True]
    (replaced,) = _subscriptions(connector)
    assert replaced["events"] == ["call_analyzed"] and "mode" not in replaced
