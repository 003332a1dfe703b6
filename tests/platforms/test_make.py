"""The Make export: a local-development app (makecomapp.json + IML-JSON code files) whose
structure, cross references and fields are checked by our own rules, because Make's schemas
(integromat/vscode-apps-sdk) carry no licence and Make has no offline validator
(platforms.md §3.2). The rules below restate the parts of those schemas this export relies on,
plus the cross-file checks the schemas cannot express.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector import manifest as manifest_module
from connector.platforms import export, load_source
from connector.platforms.fields import input_fields, output_fields
from connector.platforms.make.app import ERROR_TYPES, MAKECOMAPP, TARGET_FIELD
from connector.platforms.schema import form
from connector.platforms.source import ConnectorSource

Doc = dict[str, Any]
BASE_URL = "https://connector.example.com"
COMPONENT_TYPES = {"connection", "webhook", "module", "rpc", "function", "endpoint"}
MODULE_TYPES = {"action", "search", "trigger", "instant_trigger", "universal", "responder"}
CRUD = {"create", "read", "update", "delete", None}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
PARAMETER_TYPES = {
    "any", "array", "boolean", "buffer", "cert", "collection", "color", "date", "email",
    "filename", "folder", "file", "filter", "hidden", "json", "integer", "uinteger", "number",
    "password", "path", "pkey", "port", "select", "text", "time", "timestamp", "timezone",
    "url", "uuid", "banner", "udt",
}  # fmt: skip
PARAMETER_KEYS = {
    "name", "label", "help", "type", "semantic", "default", "advanced", "required", "grouped",
    "dynamic", "multiline", "sort", "sequence", "schema", "tags", "coder", "multiple",
    "visible", "convert", "editable", "mappable", "time", "rpc", "mode", "labels", "metadata",
    "spec", "codepage", "pattern", "nested", "options", "extension", "validate", "title",
    "text", "closable", "theme", "badge",
}  # fmt: skip
REQUEST_KEYS = {
    "url", "encodeUrl", "method", "headers", "qs", "ca", "body", "type", "temp", "condition",
    "aws", "followRedirects", "followAllRedirects", "pagination", "response", "log",
    "baseUrl", "timeout", "oauth",
}  # fmt: skip
RESPONSE_KEYS = {
    "type", "valid", "limit", "error", "iterate", "temp", "output", "trigger", "data",
    "metadata", "uid", "wrapper", "expires", "oauth",
}  # fmt: skip
ERROR_KINDS = {
    "RuntimeError", "DataError", "RateLimitError", "OutOfSpaceError", "ConnectionError",
    "InvalidConfigurationError", "InvalidAccessTokenError", "IncompleteDataError",
    "DuplicateDataError",
}  # fmt: skip
PARAMETER_CODES = {"params", "staticParams", "mappableParams", "interface"}
REQUEST_CODES = {"communication", "attach", "detach"}


# --- the checker --------------------------------------------------------------------------------


def _read(app: Path, relative: str) -> Any:
    return json.loads((app / relative).read_text(encoding="utf-8"))


def _code_paths(app_json: Doc) -> Iterator[tuple[str, str, str, str]]:
    """(component type, component id, code type, path) of every code file."""
    for kind, components in app_json["components"].items():
        for component_id, component in (components or {}).items():
            for code, path in (component or {}).get("codeFiles", {}).items():
                if path is not None:
                    yield kind, component_id, code, path


def _parameters(params: Any, where: str) -> Iterator[str]:
    """Problems in a parameter list (or one parameter), recursively through spec."""
    items = params if isinstance(params, list) else [params]
    for param in items:
        if not isinstance(param, dict):
            yield f"{where}: parameter is not an object"
            continue
        if param.get("type") not in PARAMETER_TYPES:
            yield f"{where}: {param.get('name')!r} has unknown type {param.get('type')!r}"
        for key in set(param) - PARAMETER_KEYS:
            yield f"{where}: {param.get('name')!r} has unknown key {key!r}"
        if "spec" in param:
            yield from _parameters(param["spec"], f"{where}.{param.get('name', 'item')}")


def _requests(document: Any, where: str, *, webhook_communication: bool) -> Iterator[str]:
    items = document if isinstance(document, list) else [document]
    for request in items:
        if webhook_communication and "url" not in request:
            continue  # a webhook's communication maps the inbound request; it sends nothing
        if "url" not in request:
            yield f"{where}: request without url"
        if request.get("method", "GET") not in METHODS:
            yield f"{where}: unknown method {request.get('method')!r}"
        if request.get("method") in {"POST", "PUT", "PATCH"} and "body" not in request:
            yield f"{where}: {request['method']} without body"
        for key in set(request) - REQUEST_KEYS:
            yield f"{where}: unknown request key {key!r}"
        for key in set(request.get("response", {})) - RESPONSE_KEYS:
            yield f"{where}: unknown response key {key!r}"


def _by_name(params: list[Doc]) -> dict[str, Doc]:
    return {p["name"]: p for p in params if isinstance(p, dict) and "name" in p}


def _find_output(interface: list[Doc], dotted: str) -> bool:
    """Whether an output field (nested keys joined with ``__``) is in the interface."""
    params: Any = interface
    for part in dotted.split("__"):
        found = _by_name(params if isinstance(params, list) else []).get(part)
        if found is None:
            return False
        params = found.get("spec", [])
    return True


def _rpc_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        options = node.get("options")
        if isinstance(options, str) and options.startswith("rpc://"):
            yield options.removeprefix("rpc://")
        for value in node.values():
            yield from _rpc_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rpc_refs(value)


def _file(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _field_problems(
    source: ConnectorSource, params: list[Doc], schema_ref: str, where: str, skip: set[str]
) -> Iterator[str]:
    """Every input field of the schema is a parameter with its label and required flag."""
    by_name = _by_name(params)
    for field in input_fields(form(source, schema_ref)):
        if field.key in skip:
            continue
        param = by_name.get(field.key)
        if param is None:
            yield f"{where}: input field {field.key!r} missing"
        elif param.get("label") != field.label:
            yield f"{where}: {field.key!r} labelled {param.get('label')!r}, want {field.label!r}"
        elif bool(param.get("required")) != field.required:
            yield f"{where}: {field.key!r} required={param.get('required')}, want {field.required}"


def _interface_problems(
    source: ConnectorSource, interface: list[Doc], schema_ref: str, where: str
) -> Iterator[str]:
    for field in output_fields(source.schema(schema_ref)):
        if not _find_output(interface, field.key):
            yield f"{where}: output field {field.key!r} missing from interface"


def make_problems(app: Path, source: ConnectorSource) -> list[str]:
    """Everything wrong with an exported Make app, as readable lines (empty when sound)."""
    problems: list[str] = []
    try:
        app_json = _read(app, MAKECOMAPP)
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{MAKECOMAPP}: {exc}"]
    if set(app_json) != {"fileVersion", "generalCodeFiles", "components", "origins"}:
        problems.append(f"{MAKECOMAPP}: top-level keys {sorted(app_json)}")
    if set(app_json.get("components", {})) != COMPONENT_TYPES:
        problems.append(f"{MAKECOMAPP}: component types {sorted(app_json['components'])}")
        return problems
    referenced = {MAKECOMAPP, *[p for p in app_json["generalCodeFiles"].values() if p]}
    documents: dict[str, Any] = {}
    for path in sorted(referenced - {MAKECOMAPP, app_json["generalCodeFiles"]["readme"]}):
        try:
            documents[path] = _read(app, path)
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: {exc}")
    for kind, component_id, code, path in _code_paths(app_json):
        referenced.add(path)
        try:
            documents[path] = document = _read(app, path)
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{kind} {component_id} {code}: {exc}")
            continue
        where = f"{kind} {component_id} {code}"
        if code in PARAMETER_CODES:
            problems.extend(_parameters(document, where))
        if code in REQUEST_CODES:
            problems.extend(_requests(document, where, webhook_communication=kind == "webhook"))
    on_disk = {str(p.relative_to(app)) for p in app.rglob("*") if p.is_file()}
    problems.extend(f"{p}: file not listed in {MAKECOMAPP}" for p in sorted(on_disk - referenced))
    components = app_json["components"]
    connections = set(components["connection"])
    for kind in ("module", "webhook", "rpc"):
        for component_id, component in components[kind].items():
            if component.get("connection") not in connections | {None}:
                problems.append(f"{kind} {component_id}: unknown connection")
    for module_id, module in components["module"].items():
        if module.get("moduleType") not in MODULE_TYPES:
            problems.append(f"module {module_id}: unknown moduleType {module.get('moduleType')!r}")
        if module.get("actionCrud") not in CRUD:
            problems.append(f"module {module_id}: unknown actionCrud")
        if module.get("moduleType") == "instant_trigger" and (
            module.get("webhook") not in components["webhook"]
        ):
            problems.append(f"module {module_id}: webhook {module.get('webhook')!r} not found")
    for rpc in sorted(set(_rpc_refs(documents))):
        if rpc not in components["rpc"]:
            problems.append(f"rpc://{rpc} is referenced but no RPC has that id")
    problems.extend(_manifest_problems(app_json, documents, source))
    base = documents.get(app_json["generalCodeFiles"]["base"], {})
    for status, error in base.get("response", {}).get("error", {}).items():
        if isinstance(error, dict) and error.get("type", "RuntimeError") not in ERROR_KINDS:
            problems.append(f"base: error {status} has unknown type {error.get('type')!r}")
    return problems


def _manifest_problems(
    app_json: Doc, documents: dict[str, Any], source: ConnectorSource
) -> list[str]:
    """The app does what the manifest says: routes, fields, outputs, REST hooks, dropdowns."""
    problems: list[str] = []
    components = app_json["components"]

    def code(kind: str, component_id: str, name: str) -> Any:
        path = components[kind][component_id]["codeFiles"].get(name)
        return documents.get(path) if path else None

    modules_by_route = {}
    for module_id in components["module"]:
        communication = code("module", module_id, "communication")
        if isinstance(communication, dict):
            # a {name} part of the path is an IML expression of that module parameter
            url = re.sub(
                r"\{\{encodeURL\(trim\(parameters\.([a-z_]+)\)\)\}\}",
                r"{\1}",
                str(communication.get("url")),
            )
            modules_by_route[(communication.get("method"), url)] = module_id
    for action in source.manifest["actions"]:
        module_id = modules_by_route.get((action["method"], action["path"]))
        if module_id is None:
            problems.append(f"action {action['key']}: no module calls {action['path']}")
            continue
        params = code("module", module_id, "mappableParams") or []
        problems.extend(_field_problems(source, params, action["input"], module_id, set()))
        sent = code("module", module_id, "communication")
        values = {**(sent.get("body") or sent.get("qs") or {}), "(path)": sent.get("url")}
        for field in input_fields(form(source, action["input"])):
            where = "(path)" if f"{{{field.key}}}" in action["path"] else field.key
            if f"parameters.{field.key}" not in str(values.get(where, "")):
                problems.append(f"{module_id}: input field {field.key!r} is not sent")
        interface = code("module", module_id, "interface") or []
        problems.extend(_interface_problems(source, interface, action["output"], module_id))
    for trigger in source.manifest["triggers"]:
        problems.extend(_trigger_problems(trigger, components, code, source))
    option_paths = {o["path"] for o in source.manifest["options"]}
    for rpc_id in components["rpc"]:
        communication = code("rpc", rpc_id, "communication") or {}
        if communication.get("url") not in option_paths:
            problems.append(
                f"rpc {rpc_id}: calls {communication.get('url')!r}, not an options path"
            )
    return problems


def _trigger_problems(
    trigger: Doc, components: Doc, code: Callable[[str, str, str], Any], source: ConnectorSource
) -> Iterator[str]:
    """The trigger's webhook (its form picks the events) and one webhook per event with an
    output of its own (its events fixed), each with an instant module mapping that output."""
    subscribe = trigger["subscribe"]
    hooks = [
        webhook_id
        for webhook_id in components["webhook"]
        if (code("webhook", webhook_id, "attach") or {}).get("url") == subscribe["path"]
    ]
    fixed = {
        webhook_id: events
        for webhook_id in hooks
        if isinstance(
            events := code("webhook", webhook_id, "attach").get("body", {}).get("events"), list
        )
    }
    main = [webhook_id for webhook_id in hooks if webhook_id not in fixed]
    if not main:
        yield f"trigger {trigger['key']}: no webhook attaches to {subscribe['path']}"
        return
    yield from _webhook_problems(trigger, main[0], None, components, code, source)
    for event in trigger["events"]:
        if not event.get("output") or event.get("default"):
            continue
        own = [webhook_id for webhook_id, events in fixed.items() if events == [event["value"]]]
        if not own:
            yield f"trigger {trigger['key']}: event {event['value']!r} has no webhook of its own"
            continue
        yield from _webhook_problems(trigger, own[0], event, components, code, source)


def _webhook_problems(
    trigger: Doc,
    webhook_id: str,
    event: Doc | None,
    components: Doc,
    code: Callable[[str, str, str], Any],
    source: ConnectorSource,
) -> Iterator[str]:
    subscribe, unsubscribe = trigger["subscribe"], trigger["unsubscribe"]
    attach = code("webhook", webhook_id, "attach")
    if attach.get("method") != subscribe["method"]:
        yield f"webhook {webhook_id}: attach uses {attach.get('method')}"
    if attach.get("body", {}).get(TARGET_FIELD) != "{{webhook.url}}":
        yield f"webhook {webhook_id}: attach does not send {{{{webhook.url}}}} as {TARGET_FIELD}"
    saved = attach.get("response", {}).get("data", {})
    if saved.get("externalHookId") != "{{body.id}}":
        yield f"webhook {webhook_id}: attach does not keep the subscription id"
    detach = code("webhook", webhook_id, "detach") or {}
    expected = unsubscribe["path"].replace("{id}", "{{webhook.externalHookId}}")
    if (detach.get("method"), detach.get("url")) != (unsubscribe["method"], expected):
        yield f"webhook {webhook_id}: detach is {detach.get('method')} {detach.get('url')}"
    params = code("webhook", webhook_id, "params") or []
    respond = trigger.get("respond") or {}
    responder = {respond.get("mode", {}).get("field"), respond.get("timeout_field")} - {None}
    for name in responder:
        if name in _by_name(params):
            yield f"webhook {webhook_id}: offers {name!r}, but its scenario cannot answer a call"
    skip = {TARGET_FIELD, *responder} | ({"events"} if event else set())
    yield from _field_problems(source, params, subscribe["input"], webhook_id, skip)
    watchers = [
        m for m, module in components["module"].items() if module.get("webhook") == webhook_id
    ]
    if not watchers:
        yield f"webhook {webhook_id}: no instant trigger module uses it"
    output = (event or {}).get("output") or trigger["output"]
    for module_id in watchers:
        interface = code("module", module_id, "interface") or []
        yield from _interface_problems(source, interface, output, module_id)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source() -> ConnectorSource:
    return load_source(BASE_URL)


@pytest.fixture(scope="module")
def exported(source: ConnectorSource, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("make")
    export("make", out, source=source)
    return out


@pytest.fixture
def app(exported: Path, tmp_path: Path) -> Path:
    """A private copy of the export, free to break."""
    return Path(shutil.copytree(exported, tmp_path / "app"))


def _component_file(app: Path, kind: str, component_id: str, code: str) -> Path:
    path = _read(app, MAKECOMAPP)["components"][kind][component_id]["codeFiles"][code]
    return app / str(path)


def _edit(path: Path, change: Callable[[Any], object]) -> None:
    """Change a JSON file in place (``change`` mutates the document; its result is ignored)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def _without(path: Path, name: str) -> None:
    """Drop the parameter called ``name`` from a parameter-list file."""
    params = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps([p for p in params if p.get("name") != name]), encoding="utf-8")


# --- the export is sound ------------------------------------------------------------------------


def test_export_passes_structural_checks(exported: Path, source: ConnectorSource) -> None:
    """The exported app passes every structural and cross-reference check."""
    assert make_problems(exported, source) == []


def test_json_files_parse(exported: Path) -> None:
    """Every file except the README is JSON."""
    files = [p for p in exported.rglob("*") if p.is_file() and p.name != "README.md"]
    assert files and all(isinstance(json.loads(p.read_text("utf-8")), dict | list) for p in files)


def test_export_returns_written_files(tmp_path: Path, source: ConnectorSource) -> None:
    """export() returns exactly the files it wrote."""
    written = export("make", tmp_path, source=source)
    assert sorted(written) == sorted(p for p in tmp_path.rglob("*") if p.is_file())


# --- a broken export is rejected ----------------------------------------------------------------


def _rename_rpc(app: Path) -> None:
    _edit(
        app / MAKECOMAPP,
        lambda d: d["components"]["rpc"].__setitem__(
            "listVoiceAgents", d["components"]["rpc"].pop("listAgents")
        ),
    )


def _attach_elsewhere(app: Path) -> None:
    _edit(
        _component_file(app, "webhook", "callEvents", "attach"),
        lambda d: d.__setitem__("url", "/v1/triggers/call-events"),
    )


def _detach_without_hook_id(app: Path) -> None:
    _edit(
        _component_file(app, "webhook", "callEvents", "detach"),
        lambda d: d.__setitem__("url", "/v1/triggers/call-events/subscriptions"),
    )


def _attach_forgets_id(app: Path) -> None:
    _edit(
        _component_file(app, "webhook", "callEvents", "attach"),
        lambda d: d.pop("response"),
    )


def _drop_input_field(app: Path) -> None:
    _without(_component_file(app, "module", "createPhoneCall", "mappableParams"), "to_number")


def _relabel_input_field(app: Path) -> None:
    _edit(
        _component_file(app, "module", "createPhoneCall", "mappableParams"),
        lambda d: d[0].__setitem__("label", "Caller"),
    )


def _optional_required_field(app: Path) -> None:
    _edit(
        _component_file(app, "module", "createPhoneCall", "mappableParams"),
        lambda d: d[1].pop("required"),
    )


def _unsent_input_field(app: Path) -> None:
    _edit(
        _component_file(app, "module", "createPhoneCall", "communication"),
        lambda d: d["body"].pop("metadata"),
    )


def _drop_output_field(app: Path) -> None:
    _without(_component_file(app, "module", "getCall", "interface"), "call_status")


def _drop_trigger_output_field(app: Path) -> None:
    def change(interface: list[Doc]) -> None:
        flat = _by_name(interface)["flat"]
        flat["spec"] = [p for p in flat["spec"] if p["name"] != "call_summary"]

    _edit(_component_file(app, "module", "watchCallEvents", "interface"), change)


def _unknown_parameter_type(app: Path) -> None:
    _edit(
        _component_file(app, "module", "getCall", "mappableParams"),
        lambda d: d[0].__setitem__("type", "string"),
    )


def _unknown_parameter_key(app: Path) -> None:
    _edit(
        _component_file(app, "module", "getCall", "mappableParams"),
        lambda d: d[0].__setitem__("helpText", "Zapier's spelling"),
    )


def _post_without_body(app: Path) -> None:
    _edit(
        _component_file(app, "module", "createPhoneCall", "communication"),
        lambda d: d.pop("body"),
    )


def _unknown_module_type(app: Path) -> None:
    _edit(
        app / MAKECOMAPP,
        lambda d: d["components"]["module"]["createPhoneCall"].__setitem__("moduleType", "create"),
    )


def _trigger_without_webhook(app: Path) -> None:
    _edit(
        app / MAKECOMAPP,
        lambda d: d["components"]["module"]["watchCallEvents"].__setitem__("webhook", "hooks"),
    )


def _missing_code_file(app: Path) -> None:
    _component_file(app, "rpc", "listPhoneNumbers", "communication").unlink()


def _not_json(app: Path) -> None:
    _component_file(app, "module", "getCall", "samples").write_text("{call_id: 1", "utf-8")


def _unknown_error_type(app: Path) -> None:
    _edit(
        app / "general/base.iml.json", lambda d: d["response"]["error"]["401"].update(type="Oops")
    )


BREAKAGES: list[tuple[Callable[[Path], None], str]] = [
    (_rename_rpc, "rpc://listAgents is referenced but no RPC has that id"),
    (_attach_elsewhere, "no webhook attaches to /v1/triggers/call-events/subscriptions"),
    (_detach_without_hook_id, "detach is DELETE /v1/triggers/call-events/subscriptions"),
    (_attach_forgets_id, "attach does not keep the subscription id"),
    (_drop_input_field, "input field 'to_number' missing"),
    (_relabel_input_field, "'from_number' labelled 'Caller'"),
    (_optional_required_field, "'to_number' required=None, want True"),
    (_unsent_input_field, "input field 'metadata' is not sent"),
    (_drop_output_field, "output field 'call_status' missing"),
    (_drop_trigger_output_field, "output field 'flat__call_summary' missing"),
    (_unknown_parameter_type, "has unknown type 'string'"),
    (_unknown_parameter_key, "has unknown key 'helpText'"),
    (_post_without_body, "POST without body"),
    (_unknown_module_type, "unknown moduleType 'create'"),
    (_trigger_without_webhook, "webhook 'hooks' not found"),
    (_missing_code_file, "rpc listPhoneNumbers communication"),
    (_not_json, "module getCall samples"),
    (_unknown_error_type, "error 401 has unknown type 'Oops'"),
]


@pytest.mark.parametrize(
    ("breakage", "complaint"), BREAKAGES, ids=[b.__name__.strip("_") for b, _ in BREAKAGES]
)
def test_broken_export_is_rejected(
    breakage: Callable[[Path], None], complaint: str, app: Path, source: ConnectorSource
) -> None:
    """A deliberately broken export is rejected with a message naming the breakage."""
    breakage(app)
    problems = make_problems(app, source)
    assert any(complaint in p for p in problems), problems


# --- what the app does ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module_id", "label", "module_type", "crud"),
    [
        ("createPhoneCall", "Create a Phone Call", "action", "create"),
        ("getCall", "Get a Call", "search", "read"),
        ("queuePhoneCall", "Queue a Phone Call", "action", "create"),
        ("findQueuedCall", "Get a Queued Call", "search", "read"),
        ("cancelQueuedCall", "Cancel a Queued Call", "action", "update"),
        ("saveCallerContext", "Save a Caller Context", "action", "update"),
        ("deleteCallerContext", "Delete a Caller Context", "action", "delete"),
        ("watchCallEvents", "Watch Call Events", "instant_trigger", None),
        ("watchCallInbound", "Watch: Inbound call answered", "instant_trigger", None),
        ("watchQueuedCallFailed", "Watch: Queued call failed", "instant_trigger", None),
        ("watchQueuedCallExpired", "Watch: Queued call expired", "instant_trigger", None),
    ],
)
def test_module_kind_and_label(
    module_id: str, label: str, module_type: str, crud: str | None, exported: Path
) -> None:
    """Each manifest operation is a module of the matching Make type and label."""
    module = _read(exported, MAKECOMAPP)["components"]["module"][module_id]
    assert (module["label"], module["moduleType"], module.get("actionCrud")) == (
        label,
        module_type,
        crud,
    )


@pytest.mark.parametrize(
    ("kind", "component_id", "code", "field", "rpc"),
    [
        ("module", "createPhoneCall", "mappableParams", "from_number", "listPhoneNumbers"),
        ("module", "createPhoneCall", "mappableParams", "override_agent_id", "listAgents"),
        (
            "module",
            "createPhoneCall",
            "mappableParams",
            "override_agent_version",
            "listAgentVersions",
        ),
        ("module", "queuePhoneCall", "mappableParams", "from_number", "listPhoneNumbers"),
        ("module", "saveCallerContext", "mappableParams", "override_agent_id", "listAgents"),
        ("webhook", "callEvents", "params", "agent_id", "listAgents"),
    ],
)
def test_dropdown_fields_use_rpcs(
    kind: str, component_id: str, code: str, field: str, rpc: str, exported: Path
) -> None:
    """Fields with a dropdown source are editable selects fed by the matching RPC."""
    params = json.loads(_component_file(exported, kind, component_id, code).read_text("utf-8"))
    param = _by_name(params)[field]
    assert (param["type"], param["options"], param["editable"]) == ("select", f"rpc://{rpc}", True)


def test_agent_version_rpc_reads_the_modules_agent(exported: Path) -> None:
    """The agent-version RPC asks for the versions of the agent picked in the module."""
    rpc = _component_file(exported, "rpc", "listAgentVersions", "communication")
    communication = json.loads(rpc.read_text("utf-8"))
    assert communication["url"] == "/v1/options/agent-versions"
    assert communication["qs"] == {"agent_id": "{{parameters.override_agent_id}}"}
    module = _component_file(exported, "module", "createPhoneCall", "mappableParams")
    assert "override_agent_id" in _by_name(json.loads(module.read_text("utf-8")))


@pytest.mark.parametrize(
    ("field", "expression"),
    [
        ("to_number", "{{parameters.to_number}}"),
        ("override_agent_id", "{{ifempty(parameters.override_agent_id, undefined)}}"),
        ("honor_internal_dnc", "{{ifempty(parameters.honor_internal_dnc, undefined)}}"),
        (
            "metadata",
            "{{if(length(parameters.metadata), "
            "toCollection(parameters.metadata, 'key', 'value'), undefined)}}",
        ),
    ],
)
def test_create_body_expression(field: str, expression: str, exported: Path) -> None:
    """Required values are sent as they are, optional ones only when filled in, key-value
    lists as objects."""
    path = _component_file(exported, "module", "createPhoneCall", "communication")
    assert json.loads(path.read_text("utf-8"))["body"][field] == expression


def test_dict_field_is_key_value_list(exported: Path) -> None:
    """A key-value field is a list of key/value pairs in the form."""
    path = _component_file(exported, "module", "createPhoneCall", "mappableParams")
    param = _by_name(json.loads(path.read_text("utf-8")))["retell_llm_dynamic_variables"]
    assert (param["type"], [s["name"] for s in param["spec"]]) == ("array", ["key", "value"])


def test_event_filter_is_multiselect_with_manifest_labels(
    exported: Path, source: ConnectorSource
) -> None:
    """The webhook form's events field offers the manifest's events, labelled, several at once."""
    params = json.loads(_component_file(exported, "webhook", "callEvents", "params").read_text())
    events = _by_name(params)["events"]
    labels = {e["value"]: e["label"] for e in source.manifest["triggers"][0]["events"]}
    assert events["multiple"] is True
    assert {o["value"]: o["label"] for o in events["options"]} == labels


def test_connection_test_calls_auth_test(exported: Path, source: ConnectorSource) -> None:
    """The connection test calls the manifest's auth test with the bearer token and names the
    connection after the answer's label."""
    test = json.loads(
        _component_file(exported, "connection", "apiToken", "communication").read_text()
    )
    auth = source.manifest["auth"]
    assert test["url"] == "{{parameters.baseUrl}}" + auth["test"]["path"]
    assert test["headers"] == {"Authorization": "Bearer {{parameters.apiToken}}"}
    assert test["response"]["metadata"]["value"] == "{{body." + auth["connection_label"] + "}}"


def test_connection_asks_for_url_and_secret_token(exported: Path) -> None:
    """The connection form asks for the connector URL (pre-filled) and a password-type token."""
    params = _by_name(
        json.loads(_component_file(exported, "connection", "apiToken", "params").read_text())
    )
    assert (params["baseUrl"]["type"], params["baseUrl"]["default"]) == ("url", BASE_URL)
    assert params["apiToken"]["type"] == "password"


def test_base_sends_bearer_token_and_hides_it_from_logs(exported: Path) -> None:
    """Every request carries the bearer token, and Make's logs never show it."""
    base = _read(exported, "general/base.iml.json")
    assert base["headers"] == {"Authorization": "Bearer {{connection.apiToken}}"}
    assert "request.headers.authorization" in base["log"]["sanitize"]


def test_outcome_unknown_advice_is_in_make_terms(exported: Path) -> None:
    """call-outcome-unknown shows its cause and Make's advice, not the API's Idempotency-Key
    wording; every other problem shows its one-line message."""
    message = _read(exported, "general/base.iml.json")["response"]["error"]["message"]
    assert "body.cause + ' ' + if(body.retry_safe, 'Retrying this module" in message
    assert "incomplete executions" in message and "Idempotency-Key" not in message
    assert message.endswith("ifempty(body.message, body.detail))}}")


@pytest.mark.parametrize(("status", "kind"), sorted(ERROR_TYPES.items()))
def test_problem_status_maps_to_make_error_type(status: str, kind: str, exported: Path) -> None:
    """Each problem status becomes the Make error type that drives retries and reconnects."""
    error = _read(exported, "general/base.iml.json")["response"]["error"][status]
    assert error["type"] == kind and "ifempty(body.message, body.detail)" in error["message"]


@pytest.mark.parametrize("status", ["502", "504"])
def test_outcome_unknown_is_not_retryable(status: str, exported: Path) -> None:
    """A 502/504 (call outcome unknown) stays a plain runtime error: Make must not re-dial."""
    assert status not in _read(exported, "general/base.iml.json")["response"]["error"]


@pytest.mark.parametrize(
    ("module_id", "schema"),
    [
        ("createPhoneCall", "call.json"),
        ("getCall", "call.json"),
        ("queuePhoneCall", "queued-call.json"),
        ("saveCallerContext", "inbound-contact.json"),
        ("deleteCallerContext", "inbound-contact.deleted.json"),
        ("watchCallEvents", "call-event.json"),
        ("watchCallInbound", "inbound-event.json"),
        ("watchQueuedCallFailed", "queued-call-event.json"),
    ],
)
def test_samples_are_valid_outputs(module_id: str, schema: str, exported: Path) -> None:
    """Each module's sample is a valid instance of its output schema."""
    sample = json.loads(_component_file(exported, "module", module_id, "samples").read_text())
    errors = manifest_module.schema_validator(schema).iter_errors(sample)
    assert [e.message for e in errors] == []


@pytest.mark.parametrize(
    ("module_id", "method", "sent"),
    [("saveCallerContext", "PUT", "body"), ("deleteCallerContext", "DELETE", None)],
)
def test_path_parts_come_from_the_module_form(
    module_id: str, method: str, sent: str | None, exported: Path
) -> None:
    """The caller's number is a required field filled, URL-encoded, into the path, and is not
    sent again in the body or query."""
    path = _component_file(exported, "module", module_id, "communication")
    communication = json.loads(path.read_text("utf-8"))
    assert communication["method"] == method
    assert communication["url"] == (
        "/v1/inbound/contacts/{{encodeURL(trim(parameters.phone_number))}}"
    )
    assert "phone_number" not in communication.get("body", {})
    assert "qs" not in communication
    assert (sent in communication) if sent else "body" not in communication
    params = json.loads(
        _component_file(exported, "module", module_id, "mappableParams").read_text()
    )
    assert _by_name(params)["phone_number"]["required"] is True


def test_files_are_named_after_their_component(exported: Path) -> None:
    """Code files live at <type>/<component>/<component>.<code>.iml.json, in kebab case."""
    paths = [p for *_, p in _code_paths(_read(exported, MAKECOMAPP))]
    pattern = r"(connections|webhooks|modules|rpcs)/([a-z0-9-]+)/\2\.[a-z-]+\.iml\.json"
    assert paths and all(re.fullmatch(pattern, p) for p in paths)


def test_readme_says_how_a_scenario_answers_inbound_calls(exported: Path) -> None:
    """The responder is not a module here (a custom app's webhook cannot carry the scenario's
    answer back), so the README gives the built-in webhook way and the one subscribe request,
    quoted so the shell reads it as sent."""
    readme = (exported / "README.md").read_text(encoding="utf-8")
    assert "## Answer Inbound Calls" in readme
    assert "**Custom webhook**" in readme and "**Webhook response**" in readme
    (command,) = [line for line in readme.splitlines() if line.strip().startswith("-d '")]
    body = json.loads(command.strip().removeprefix("-d '").removesuffix("'"))
    assert body["mode"] == "respond" and body["target_url"]


@pytest.mark.parametrize(
    ("webhook_id", "event"),
    [
        ("callEventsCallInbound", "call_inbound"),
        ("callEventsQueuedCallFailed", "queued_call.failed"),
        ("callEventsQueuedCallExpired", "queued_call.expired"),
    ],
)
def test_connector_events_have_webhooks_of_their_own(
    webhook_id: str, event: str, exported: Path
) -> None:
    """Each connector event subscribes on its own (its fields are not a call's), offering the
    agent filter but no event picker."""
    attach = json.loads(_component_file(exported, "webhook", webhook_id, "attach").read_text())
    assert attach["body"]["events"] == [event]
    params = json.loads(_component_file(exported, "webhook", webhook_id, "params").read_text())
    assert [p["name"] for p in params] == ["agent_id"]
