"""The Zapier export: accepted by Zapier's own validators (zapier-platform-schema and core's
validateApp), generated from the manifest alone, and executed by zapier-platform-core against
a live connector whose Retell is the sandbox."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector import manifest
from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.platforms import export, load_source
from connector.platforms.source import ConnectorSource
from connector.platforms.zapier.app import CORE_VERSION, app_definition
from connector.sandbox import SandboxConfig, SandboxServer
from tests.conftest import TOKEN, make_settings
from tests.platforms.conftest import run_node
from tests.subscriber import Subscriber

App = dict[str, Any]

# validateAppDefinition, then each operation on its own (only that enforces `sample` on
# visible operations, platforms.md §1.3 a), then core's compileApp + validateApp (§1.3 b).
VALIDATE = r"""
const { validateAppDefinition } = require('zapier-platform-schema');
const def = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
const text = (errors) => errors.map((e) => `${e.property}: ${e.message}`);
const out = { app: text(validateAppDefinition(def).errors) };
const kinds = { triggers: 'TriggerSchema', creates: 'CreateSchema', searches: 'SearchSchema' };
for (const [group, name] of Object.entries(kinds)) {
  const schema = require(`zapier-platform-schema/lib/schemas/${name}`);
  for (const [key, op] of Object.entries(def[group] || {})) {
    out[`${group}.${key}`] = text(schema.validate(op).errors);
  }
}
const core = require('zapier-platform-core/src/tools/schema');
out.core = text(core.validateApp(core.compileApp(JSON.parse(JSON.stringify(def)))));
console.log(JSON.stringify(out));
"""

# Runs steps through core's Lambda handler, as Zapier does (platforms.md §1.3 d).
# calledFromCli keeps core's memory log line off stdout.
RUN = r"""
const { createAppHandler } = require('zapier-platform-core');
const handler = createAppHandler(JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')));
(async () => {
  const out = [];
  for (const { method, bundle } of JSON.parse(process.argv[2])) {
    try {
      const { results } = await handler({ command: 'execute', method, bundle, calledFromCli: true });
      out.push({ results });
    } catch (err) {
      let error = err.message;
      try { error = JSON.parse(err.message).message; } catch (e) { /* not an AppError */ }
      out.push({ error: String(error), name: err.name });
    }
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


@pytest.fixture(scope="module")
def source() -> ConnectorSource:
    return load_source("https://connector.example.com")


@pytest.fixture(scope="module")
def app(source: ConnectorSource) -> App:
    return app_definition(source)


def _validate(node_modules: Path, app: App, tmp: Path) -> dict[str, list[str]]:
    path = tmp / "app.json"
    path.write_text(json.dumps(app), encoding="utf-8")
    found: dict[str, list[str]] = run_node(node_modules, VALIDATE, str(path))
    return found


@pytest.fixture(scope="module")
def verdicts(
    node_modules: Path, app: App, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    return _validate(node_modules, app, tmp_path_factory.mktemp("zapier-valid"))


def _checks() -> list[str]:
    app = app_definition(load_source())
    operations = [
        f"{group}.{key}" for group in ("triggers", "creates", "searches") for key in app[group]
    ]
    return ["app", "core", *operations]


# --- the folder -------------------------------------------------------------------------


APP_FILES = ["app.json", "index.js", "package.json", "test/app.test.js", "test/connector.json"]


def test_export_writes_a_cli_app_folder(tmp_path: Path, source: ConnectorSource) -> None:
    """export writes package.json, index.js, app.json and the tests, and nothing else."""
    written = export("zapier", tmp_path, source=source)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == APP_FILES
    on_disk = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(on_disk) == APP_FILES


def test_package_json_pins_core_exactly(tmp_path: Path, source: ConnectorSource) -> None:
    """The CLI refuses a range: zapier-platform-core is pinned to one version, main is index.js."""
    export("zapier", tmp_path, source=source)
    package = json.loads((tmp_path / "package.json").read_text())
    assert package["dependencies"] == {"zapier-platform-core": "19.1.0"}
    assert package["main"] == "index.js"


def test_package_json_has_a_test_script_and_node_22(
    tmp_path: Path, source: ConnectorSource
) -> None:
    """`zapier-platform test` runs the package's test script; platform v18+ runs on Node 22."""
    export("zapier", tmp_path, source=source)
    package = json.loads((tmp_path / "package.json").read_text())
    assert package["scripts"] == {"test": "node --test test/app.test.js"}
    assert package["engines"] == {"node": ">=22"}


def _npm_test(node_modules: Path, app: Path) -> subprocess.CompletedProcess[str]:
    """`npm test` in the exported folder, as `zapier-platform test` runs it (after validate),
    with the pinned zapier-platform-core on NODE_PATH instead of an `npm install`."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    return subprocess.run(
        ["npm", "test", "--silent"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(node_modules)},
        check=False,
    )


def _tally(output: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^# (pass|fail) (\d+)$", output, re.MULTILINE)}


def test_shipped_tests_pass(node_modules: Path, tmp_path: Path, source: ConnectorSource) -> None:
    """The exported app's own tests run and pass against their stand-in connector."""
    export("zapier", tmp_path, source=source)
    result = _npm_test(node_modules, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    tally = _tally(result.stdout)
    assert tally["fail"] == 0 and tally["pass"] >= 20, tally


def test_shipped_tests_catch_a_broken_app(
    node_modules: Path, tmp_path: Path, source: ConnectorSource
) -> None:
    """An app that stops sending the idempotency key fails its own tests."""
    export("zapier", tmp_path, source=source)
    app_json = tmp_path / "app.json"
    app = json.loads(app_json.read_text())
    perform = app["creates"]["create_phone_call"]["operation"]["perform"]
    perform["source"] = perform["source"].replace('"Idempotency-Key"', '"X-Not-The-Key"')
    app_json.write_text(json.dumps(app))
    result = _npm_test(node_modules, tmp_path)
    assert result.returncode != 0
    assert "not ok" in result.stdout and "a replayed step sends the same" in result.stdout
    assert _tally(result.stdout)["fail"] >= 1


def test_index_js_exports_the_app_definition(tmp_path: Path, source: ConnectorSource) -> None:
    """index.js hands Zapier app.json, which is exactly app_definition(source)."""
    export("zapier", tmp_path, source=source)
    assert "require('./app.json')" in (tmp_path / "index.js").read_text()
    assert json.loads((tmp_path / "app.json").read_text()) == app_definition(source)


def test_platform_version_is_the_pinned_core(app: App) -> None:
    """platformVersion matches the core the package pins."""
    assert app["platformVersion"] == CORE_VERSION


# --- Zapier's validators ----------------------------------------------------------------


@pytest.mark.parametrize("check", _checks())
def test_zapier_validators_accept_the_export(verdicts: dict[str, list[str]], check: str) -> None:
    """Each of Zapier's validators finds no error in the export."""
    assert verdicts[check] == []


def _drop_sample(app: App) -> None:
    del app["triggers"]["call_ended"]["operation"]["sample"]


def _bad_type(app: App) -> None:
    app["creates"]["create_phone_call"]["operation"]["inputFields"][1]["type"] = "phone"


def _key_mismatch(app: App) -> None:
    app["triggers"]["call_ended"]["key"] = "callEnded"


def _dynamic_and_choices(app: App) -> None:
    field = app["creates"]["create_phone_call"]["operation"]["inputFields"][0]
    field["choices"] = ["+14157774444"]


def _no_return(app: App) -> None:
    app["searches"]["find_call"]["operation"]["perform"] = {"source": "[bundle.inputData];"}


def _unlabelled(app: App) -> None:
    del app["creates"]["create_phone_call"]["display"]["label"]


@pytest.mark.parametrize(
    ("break_it", "check", "message"),
    [
        (_drop_sample, "triggers.call_ended", 'requires "sample", because it\'s not hidden'),
        (_bad_type, "app", "is not one of enum values"),
        (_key_mismatch, "app", "must have a matching top-level key"),
        (_dynamic_and_choices, "app", "mutually exclusive"),
        (_no_return, "app", 'additional property "source"'),
        (_unlabelled, "app", "must have a label and description"),
    ],
    ids=["no-sample", "bad-field-type", "key-mismatch", "dynamic+choices", "no-return", "no-label"],
)
def test_validators_reject_a_broken_export(
    node_modules: Path,
    app: App,
    tmp_path: Path,
    break_it: Callable[[App], None],
    check: str,
    message: str,
) -> None:
    """A deliberately broken export fails the check that should catch it."""
    broken = copy.deepcopy(app)
    break_it(broken)
    errors = _validate(node_modules, broken, tmp_path)[check]
    assert any(message in error for error in errors), errors


# --- generated from the manifest --------------------------------------------------------


def _field(app: App, key: str) -> dict[str, Any]:
    fields = app["creates"]["create_phone_call"]["operation"]["inputFields"]
    return next(f for f in fields if f["key"] == key)


def test_create_offers_every_input_field_in_schema_order(app: App, source: ConnectorSource) -> None:
    """create_phone_call has one input field per property of its input schema, in order."""
    schema = source.schemas["create-phone-call.input.json"]
    fields = app["creates"]["create_phone_call"]["operation"]["inputFields"]
    assert [f["key"] for f in fields] == list(schema["properties"])


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "from_number",
            {"type": "string", "required": True, "dynamic": "options_phone_numbers.id.name"},
        ),
        ("to_number", {"type": "string", "required": True, "placeholder": "+12137774445"}),
        ("override_agent_id", {"required": False, "dynamic": "options_agents.id.name"}),
        ("override_agent_version", {"type": "string", "group": "advanced"}),
        ("retell_llm_dynamic_variables", {"dict": True, "label": "Dynamic variables"}),
        ("metadata", {"dict": True}),
        ("agent_override", {"type": "code", "group": "advanced"}),
        ("honor_internal_dnc", {"type": "boolean", "label": "Respect do-not-call list"}),
        ("idempotency_key", {"type": "string", "group": "advanced"}),
    ],
)
def test_create_field_mapping(app: App, key: str, expected: dict[str, Any]) -> None:
    """Each neutral field kind becomes the Zapier input field the mapping table names."""
    field = _field(app, key)
    assert {k: field.get(k) for k in expected} == expected


def test_help_text_comes_from_the_schema(app: App, source: ConnectorSource) -> None:
    """helpText is the schema's description of the field."""
    description = source.schemas["create-phone-call.input.json"]["properties"]["to_number"]
    assert _field(app, "to_number")["helpText"] == description["description"]


def test_a_new_schema_property_becomes_a_field(source: ConnectorSource) -> None:
    """Nothing is hand-written per action: a property added to the schema shows up."""
    schemas = copy.deepcopy(source.schemas)
    schemas["create-phone-call.input.json"]["properties"]["ring_seconds"] = {
        "type": "integer",
        "title": "Ring for",
        "description": "Seconds to ring.",
    }
    app = app_definition(replace(source, schemas=schemas))
    assert _field(app, "ring_seconds") == {
        "key": "ring_seconds",
        "label": "Ring for",
        "required": False,
        "helpText": "Seconds to ring.",
        "type": "integer",
    }
    assert '"ring_seconds"' in app["creates"]["create_phone_call"]["operation"]["perform"]["source"]


def test_auth_is_a_bearer_api_key_with_a_connector_url(app: App, source: ConnectorSource) -> None:
    """Custom auth: a password api_key sent as Bearer, a base_url defaulting to the source's."""
    auth = app["authentication"]
    fields = {f["key"]: f for f in auth["fields"]}
    assert fields["api_key"]["type"] == "password"
    assert fields["base_url"]["default"] == source.base_url
    assert (
        app["requestTemplate"]["headers"]["Authorization"] == "Bearer {{bundle.authData.api_key}}"
    )
    assert auth["test"] == {"method": "GET", "url": "{{bundle.authData.base_url}}/v1/me"}
    assert auth["connectionLabel"] == "{{bundle.inputData.label}}"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://connector.example.com", {"default": "https://connector.example.com"}),
        (None, {"placeholder": "https://your-connector.example.com"}),
    ],
    ids=["known-url", "no-url-given"],
)
def test_connector_url_defaults_only_to_a_real_url(
    base_url: str | None, expected: dict[str, str]
) -> None:
    """The exported URL is the field's default, unless it is the placeholder."""
    source = load_source(base_url) if base_url else load_source()
    fields = {f["key"]: f for f in app_definition(source)["authentication"]["fields"]}
    assert {
        k: fields["base_url"].get(k) for k in ("default", "placeholder") if k in fields["base_url"]
    } == expected


def test_hook_triggers_cover_each_default_event_and_any_event(app: App) -> None:
    """Call Ended, Call Analyzed, each connector event (its fields are not a call's) and New
    Call Event are REST hooks; dropdown triggers hide."""
    hooks = {
        k: t["display"]["label"]
        for k, t in app["triggers"].items()
        if t["operation"]["type"] == "hook"
    }
    hidden = {k for k, t in app["triggers"].items() if t["display"].get("hidden")}
    assert hooks == {
        "call_ended": "Call Ended",
        "call_analyzed": "Call Analyzed",
        "call_inbound": "Inbound Call Answered",
        "queued_call_failed": "Queued Call Failed",
        "queued_call_expired": "Queued Call Expired",
        "call_events": "New Call Event",
    }
    assert hidden == {"options_phone_numbers", "options_agents", "options_agent_versions"}


@pytest.mark.parametrize(
    ("trigger", "event"),
    [
        ("call_ended", "call_ended"),
        ("call_analyzed", "call_analyzed"),
        ("call_events", "call_analyzed"),
    ],
)
def test_trigger_sample_is_a_built_in_event(app: App, trigger: str, event: str) -> None:
    """Each hook trigger's sample is the built-in sample of its (first) event."""
    sample = app["triggers"][trigger]["operation"]["sample"]
    assert sample["event"] == event
    assert sample["id"].startswith("evt_")


@pytest.mark.parametrize(
    ("operation", "key", "label"),
    [
        ("triggers.call_analyzed", "flat__call_summary", "Summary"),
        ("triggers.call_analyzed", "created_at", "Received at"),
        ("creates.create_phone_call", "call_id", "Call ID"),
        ("searches.find_call", "call_analysis__user_sentiment", "User sentiment"),
    ],
)
def test_output_fields_are_labelled_from_schema_titles(
    app: App, operation: str, key: str, label: str
) -> None:
    """Output fields carry the schema's titles, nested ones flattened with __."""
    group, name = operation.split(".")
    fields = {f["key"]: f for f in app[group][name]["operation"]["outputFields"]}
    assert fields[key]["label"] == label


@pytest.mark.parametrize(
    ("trigger", "description"),
    [
        (
            "call_ended",
            "Triggers when a call ends. Comes with the transcript, recording, duration and why "
            "the call ended. No analysis yet.",
        ),
        (
            "call_analyzed",
            "Triggers when Retell has analyzed a call. Comes with Retell's post-call analysis: "
            "summary, sentiment, success and your custom data.",
        ),
    ],
)
def test_event_triggers_are_described_in_one_sentence_each(
    app: App, trigger: str, description: str
) -> None:
    """A per-event trigger reads "Triggers when …." then what it brings: no doubled colon."""
    assert app["triggers"][trigger]["display"]["description"] == description


def test_search_description_starts_with_finds(app: App) -> None:
    """Zapier's style: a search's description starts with "Finds"."""
    assert app["searches"]["find_call"]["display"]["description"].startswith("Finds ")


def test_nouns_are_title_case(app: App) -> None:
    """Every noun is in Title Case, as Zapier's checks want it."""
    nouns = [
        op["noun"] for group in ("triggers", "creates", "searches") for op in app[group].values()
    ]
    assert nouns and all(word[:1].isupper() for noun in nouns for word in noun.split()), nouns


def test_event_id_is_the_primary_output(app: App) -> None:
    """The event id (stable across redeliveries) is the trigger's primary key."""
    fields = app["triggers"]["call_events"]["operation"]["outputFields"]
    assert [f["key"] for f in fields if f.get("primary")] == ["id"]


# --- executed by zapier-platform-core against a live connector ---------------------------

SALES_LINE = "+14157774444"
ANSWERS = "+14155550123"  # the sandbox answers, talks and analyzes


@dataclass
class Live:
    """A connector on loopback (sandbox as Retell) and the exported app to run against it."""

    url: str
    sandbox: SandboxServer
    http: httpx.Client
    app_json: Path
    node_modules: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"api_key": TOKEN, "base_url": self.url + "/"}  # trailing slash on purpose

    def run(self, *steps: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        payload = [{"method": m, "bundle": {"authData": self.auth, **b}} for m, b in steps]
        found: list[dict[str, Any]] = run_node(
            self.node_modules, RUN, str(self.app_json), json.dumps(payload)
        )
        return found

    def result(self, method: str, **bundle: Any) -> Any:
        (outcome,) = self.run((method, bundle))
        assert "error" not in outcome, outcome
        return outcome["results"]

    def calls_created(self) -> int:
        return int(httpx.get(f"{self.sandbox.url}/_sandbox/stats").json()["calls_created"])

    def subscriptions(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.http.get(
            "/v1/triggers/call-events/subscriptions"
        ).json()["items"]
        return items


@pytest.fixture
def live(node_modules: Path, tmp_path: Path) -> Iterator[Live]:
    server = LoopbackServer()
    config = SandboxConfig.fast(
        api_key="sandbox-key", webhook_url=f"{server.url}/v1/webhooks/retell"
    )
    export("zapier", tmp_path / "zapier", source=load_source(server.url))
    with SandboxServer(config) as sandbox:
        settings = make_settings(
            tmp_path,
            retell_api_key="sandbox-key",
            retell_base_url=sandbox.url,
            connector_allow_private_targets=True,
        )
        connector = create_app(settings, run_delivery=True, configure_logs=False)
        server.app = connector
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with server, httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
            yield Live(server.url, sandbox, http, tmp_path / "zapier" / "app.json", node_modules)
        connector.extensions["connector"].stop_background()


def _call_input(**overrides: Any) -> dict[str, Any]:
    return {
        "from_number": SALES_LINE,
        "to_number": ANSWERS,
        "retell_llm_dynamic_variables": {"customer_name": "Ada"},
        "metadata": {"lead_id": "L-1042"},
        "honor_internal_dnc": "false",
        **overrides,
    }


@pytest.mark.slow
def test_auth_test_returns_the_connection_label(live: Live) -> None:
    """The auth test answers with /v1/me, whose label names the connection."""
    me = live.result("authentication.test")
    assert me["label"] == live.http.get("/v1/me").json()["label"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trigger", "path"),
    [
        ("options_phone_numbers", "/v1/options/phone-numbers"),
        ("options_agents", "/v1/options/agents"),
    ],
)
def test_dropdown_triggers_return_options(live: Live, trigger: str, path: str) -> None:
    """The hidden dropdown triggers turn [{value, label}] into Zapier's [{id, name}]."""
    options = live.http.get(path).json()
    found = live.result(
        f"triggers.{trigger}.operation.perform", meta={"isFillingDynamicDropdown": True}
    )
    assert found == [{"id": o["value"], "name": o["label"]} for o in options]
    assert found


@pytest.mark.slow
def test_agent_version_dropdown_lists_the_chosen_agents_versions(live: Live) -> None:
    """The Agent version dropdown reads the Agent field Zapier passes in bundle.inputData."""
    agent = live.http.get("/v1/options/agents").json()[0]["value"]
    options = live.http.get(f"/v1/options/agent-versions?agent_id={agent}").json()
    found = live.result(
        "triggers.options_agent_versions.operation.perform",
        inputData={"override_agent_id": agent},
        meta={"isFillingDynamicDropdown": True},
    )
    assert found == [{"id": o["value"], "name": o["label"]} for o in options]
    assert found


def test_agent_version_field_is_a_dropdown_fed_by_the_agent(app: App) -> None:
    """Create Phone Call's Agent version field is a dynamic dropdown after the Agent field."""
    fields = app["creates"]["create_phone_call"]["operation"]["inputFields"]
    keys = [f["key"] for f in fields]
    version = fields[keys.index("override_agent_version")]
    assert version["dynamic"] == "options_agent_versions.id.name"
    assert keys.index("override_agent_id") < keys.index("override_agent_version")


@pytest.mark.slow
def test_a_replayed_create_does_not_dial_twice(live: Live) -> None:
    """Zapier replaying the step (same input, whatever bundle.meta says) returns the same call."""
    first, replay = live.run(
        (
            "creates.create_phone_call.operation.perform",
            {"inputData": _call_input(), "meta": {"zap": {"id": 17}}},
        ),
        ("creates.create_phone_call.operation.perform", {"inputData": _call_input(), "meta": {}}),
    )
    assert first["results"]["call_id"] == replay["results"]["call_id"]
    assert live.calls_created() == 1


@pytest.mark.slow
def test_a_different_input_places_a_new_call(live: Live) -> None:
    """The derived key follows the input: another person is another call."""
    first, other = live.run(
        ("creates.create_phone_call.operation.perform", {"inputData": _call_input()}),
        (
            "creates.create_phone_call.operation.perform",
            {"inputData": _call_input(to_number="+14155550124")},
        ),
    )
    assert first["results"]["call_id"] != other["results"]["call_id"]
    assert live.calls_created() == 2


@pytest.mark.slow
def test_a_mapped_idempotency_key_is_sent_as_is(live: Live) -> None:
    """A user's Idempotency key reaches the connector unchanged, as the header."""
    created = live.result(
        "creates.create_phone_call.operation.perform",
        inputData=_call_input(idempotency_key="crm-L-1042"),
    )
    body = {k: v for k, v in _call_input().items() if k != "honor_internal_dnc"} | {
        "honor_internal_dnc": False
    }
    again = live.http.post(
        "/v1/actions/create-phone-call", json=body, headers={"Idempotency-Key": "crm-L-1042"}
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["call_id"] == created["call_id"]


@pytest.mark.slow
def test_json_field_is_parsed_before_sending(live: Live) -> None:
    """A code field's JSON text reaches the connector as an object."""
    override = {"agent": {"voice_id": "11labs-Adrian"}}
    created = live.result(
        "creates.create_phone_call.operation.perform",
        inputData=_call_input(agent_override=json.dumps(override)),
    )
    assert created["call_id"]
    assert live.calls_created() == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "bundle", "message"),
    [
        (
            "authentication.test",
            {"authData": {"api_key": "wrong-token"}},
            "not one of the connector's API tokens",
        ),
        (
            "creates.create_phone_call.operation.perform",
            {"inputData": _call_input(to_number="nope")},
            "1 field is invalid (to_number). To number [to_number] must be a phone number",
        ),
        (
            "creates.create_phone_call.operation.perform",
            {"inputData": _call_input(agent_override="{nope")},
            "Agent settings override: not valid JSON",
        ),
    ],
    ids=["bad-token", "field-error", "bad-json"],
)
def test_errors_read_as_the_connectors_problem(
    live: Live, method: str, bundle: dict[str, Any], message: str
) -> None:
    """A problem+json answer becomes a Zapier error with its detail and field errors; no call."""
    if "authData" in bundle:
        bundle = {**bundle, "authData": {**live.auth, **bundle["authData"]}}
    (outcome,) = live.run((method, bundle))
    assert message in outcome.get("error", ""), outcome
    assert live.calls_created() == 0


@pytest.mark.slow
@pytest.mark.parametrize("typed", ["connector.example.com", "localhost:8080", "ftp://host"])
def test_connector_url_without_https_gets_a_hint(live: Live, typed: str) -> None:
    """A Connector URL typed without https:// is named in the error, not core's "Only HTTP(S)
    protocols are supported"."""
    (outcome,) = live.run(("authentication.test", {"authData": {**live.auth, "base_url": typed}}))
    assert outcome.get("error", "").startswith("Connector URL must start with https://"), outcome
    assert "Only HTTP(S)" not in outcome["error"]


@pytest.mark.slow
def test_outcome_unknown_advises_replaying_the_run(live: Live) -> None:
    """Retell failing after it acted reads in Zapier's terms, and the replay gets the call."""
    httpx.post(
        f"{live.sandbox.url}/_sandbox/faults",
        json={"mode": "acted", "status": 500, "path": "/v2/create-phone-call"},
    ).raise_for_status()
    step = ("creates.create_phone_call.operation.perform", {"inputData": _call_input()})
    (failed,) = live.run(step)
    assert "may or may not have been placed" in failed.get("error", ""), failed
    assert "replay it" in failed["error"] and "Idempotency-Key" not in failed["error"]
    (replayed,) = live.run(step)
    assert replayed["results"]["call_id"]
    assert live.calls_created() == 1


@pytest.mark.slow
def test_find_call_returns_the_call(live: Live) -> None:
    """The search returns the call, full, as a one-item list."""
    call_id = live.http.post(
        "/v1/actions/create-phone-call",
        json=_call_input(honor_internal_dnc=False),
        headers={"Idempotency-Key": "find-1"},
    ).json()["call_id"]
    found = live.result("searches.find_call.operation.perform", inputData={"call_id": call_id})
    assert [c["call_id"] for c in found] == [call_id]


@pytest.mark.slow
def test_find_call_of_an_unknown_call_is_empty(live: Live) -> None:
    """A 404 from the connector is "nothing found", not an error."""
    assert (
        live.result("searches.find_call.operation.perform", inputData={"call_id": "nosuchcall"})
        == []
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trigger", "input_data", "events"),
    [
        ("call_ended", {}, ["call_ended"]),
        ("call_analyzed", {}, ["call_analyzed"]),
        ("call_events", {"events": ["call_started", "call_ended"]}, ["call_started", "call_ended"]),
    ],
)
def test_rest_hook_lifecycle(
    live: Live, trigger: str, input_data: dict[str, Any], events: list[str]
) -> None:
    """A hook subscribes, receives the connector's delivery, lists events and unsubscribes."""
    op = f"triggers.{trigger}.operation"
    with Subscriber() as hook:
        subscribed = live.result(f"{op}.performSubscribe", targetUrl=hook.url, inputData=input_data)
        assert "secret" not in subscribed
        assert [(s["id"], s["target_url"], s["events"]) for s in live.subscriptions()] == [
            (subscribed["id"], hook.url, events)
        ]

        live.http.post(
            "/v1/actions/create-phone-call",
            json=_call_input(honor_internal_dnc=False),
            headers={"Idempotency-Key": f"hook-{trigger}"},
        )
        delivered = json.loads(hook.wait_for(len(events), timeout=15)[0].body)
        performed, listed, unsubscribed = live.run(
            (
                f"{op}.perform",
                {"cleanedRequest": delivered, "inputData": input_data, "subscribeData": subscribed},
            ),
            (f"{op}.performList", {"inputData": input_data}),
            (f"{op}.performUnsubscribe", {"subscribeData": subscribed, "inputData": input_data}),
        )
    assert performed["results"] == [delivered]
    assert listed["results"] and {item["event"] for item in listed["results"]} <= set(events)
    assert unsubscribed["results"] == {"id": subscribed["id"], "deleted": True}
    assert live.subscriptions() == []


@pytest.mark.slow
def test_unsubscribing_a_subscription_already_gone_succeeds(live: Live) -> None:
    """A subscription the connector already dropped (410 from Zapier) unsubscribes cleanly."""
    gone = live.result(
        "triggers.call_ended.operation.performUnsubscribe", subscribeData={"id": "sub_gone"}
    )
    assert gone == {"id": "sub_gone", "deleted": True}


@pytest.mark.slow
def test_agent_filter_reaches_the_subscription(live: Live) -> None:
    """The optional agent picked on a trigger filters its subscription."""
    agent = live.http.get("/v1/options/agents").json()[0]["value"]
    live.result(
        "triggers.call_analyzed.operation.performSubscribe",
        targetUrl="http://127.0.0.1:9/hook",
        inputData={"agent_id": agent},
    )
    assert [s["agent_id"] for s in live.subscriptions()] == [agent]


@pytest.mark.parametrize(
    ("trigger", "event", "schema", "field"),
    [
        ("call_inbound", "call_inbound", "inbound-event.json", "flat__from_number"),
        ("queued_call_failed", "queued_call.failed", "queued-call-event.json", "flat__reason"),
        ("queued_call_expired", "queued_call.expired", "queued-call-event.json", "flat__campaign"),
    ],
)
def test_connector_event_triggers_offer_their_own_fields(
    app: App, trigger: str, event: str, schema: str, field: str
) -> None:
    """A connector event's trigger subscribes to that event alone, maps its own fields (not a
    call's), shows a sample of that event, and takes editor samples from the sample endpoint
    (polling Retell's call list cannot find it)."""
    operation = app["triggers"][trigger]["operation"]
    keys = [f["key"] for f in operation["outputFields"]]
    assert field in keys and "flat__call_summary" not in keys
    assert f'const events = ["{event}"]' in operation["performSubscribe"]["source"]
    assert operation["sample"]["event"] == event
    listed = operation["performList"]["source"]
    assert '"/v1/triggers/call-events/sample"' in listed and '"call_inbound"' in listed
    assert manifest.schema_validator(schema).is_valid(operation["sample"])


@pytest.mark.slow
def test_queue_find_and_cancel_a_queued_call(live: Live) -> None:
    """Queue Phone Call answers with the queued call (a replayed step, the same one); Find
    Queued Call finds it; Cancel Queued Call cancels it before it is dialled."""
    queue = "creates.queue_phone_call.operation.perform"
    later = "2099-01-01T09:00:00Z"  # so that the dialer leaves it queued
    inputs = {
        **_call_input(),
        "campaign": "zap-test",
        "call_window": "anytime",
        "not_before": later,
    }
    first, replay = live.run((queue, {"inputData": inputs}), (queue, {"inputData": inputs}))
    assert "results" in first, first
    queued = first["results"]
    assert (queued["state"], queued["campaign"]) == ("queued", "zap-test")
    assert replay["results"]["id"] == queued["id"]
    found = live.result(
        "searches.find_queued_call.operation.perform", inputData={"queued_call_id": queued["id"]}
    )
    assert [q["id"] for q in found] == [queued["id"]]
    cancelled = live.result(
        "creates.cancel_queued_call.operation.perform", inputData={"queued_call_id": queued["id"]}
    )
    assert cancelled["state"] == "cancelled"
    assert live.calls_created() == 0


@pytest.mark.slow
def test_save_and_delete_caller_context(live: Live) -> None:
    """Save Caller Context puts the number in the path (a + arrives as itself) and the context
    in the body; Delete Caller Context removes it."""
    saved = live.result(
        "creates.save_caller_context.operation.perform",
        inputData={
            "phone_number": "+14155550142",
            "dynamic_variables": {"first_name": "Ada"},
            "metadata": '{"crm_contact_id": "c-1001"}',
        },
    )
    assert saved["phone_number"] == "+14155550142"
    stored = live.http.get("/v1/inbound/contacts/%2B14155550142").json()
    assert (stored["dynamic_variables"], stored["metadata"]) == (
        {"first_name": "Ada"},
        {"crm_contact_id": "c-1001"},
    )
    deleted = live.result(
        "creates.delete_caller_context.operation.perform",
        inputData={"phone_number": "+14155550142"},
    )
    assert deleted == {"phone_number": "+14155550142", "deleted": True}
    assert live.http.get("/v1/inbound/contacts/%2B14155550142").status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trigger", "input_data", "event"),
    [
        ("call_inbound", {}, "call_inbound"),
        ("queued_call_failed", {}, "queued_call.failed"),
        ("call_events", {"events": ["queued_call.expired"]}, "queued_call.expired"),
    ],
)
def test_connector_event_samples_come_from_the_connector(
    live: Live, trigger: str, input_data: dict[str, Any], event: str
) -> None:
    """The Zap editor's samples of a connector event come from the sample endpoint (the poll
    endpoint lists Retell's calls only, and refuses these events)."""
    listed = live.result(f"triggers.{trigger}.operation.performList", inputData=input_data)
    assert listed and {item["event"] for item in listed} == {event}
