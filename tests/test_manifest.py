"""manifest.json and its loader: consistent with schemas/, and check() catches breakage."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector import manifest

Edit = Callable[[Path], None]


def copy_root(tmp_path: Path) -> Path:
    """A private copy of manifest.json and schemas/ to break."""
    root = tmp_path / "repo"
    shutil.copytree(manifest.SCHEMA_DIR, root / "schemas")
    shutil.copy(manifest.ROOT / "manifest.json", root / "manifest.json")
    return root


def edit_json(root: Path, file: str, change: Callable[[Any], None]) -> None:
    """Load a JSON file under ``root``, change it in place, write it back."""
    path = root / file
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_check_is_clean() -> None:
    """The repository's manifest and schemas pass every check."""
    assert manifest.check() == []


def test_root_is_found_from_the_module_not_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ROOT points at this repository whatever the working directory."""
    monkeypatch.chdir(tmp_path)
    assert (manifest.ROOT / "manifest.json").is_file()
    assert manifest.SCHEMA_DIR == manifest.ROOT / "schemas"
    assert manifest.load_manifest()["name"] == "retell-connector"


def test_every_action_schema_exists() -> None:
    """Each action's input and output name a schema file that loads."""
    for action in manifest.load_manifest()["actions"]:
        for ref in (action["input"], action["output"]):
            assert manifest.load_schema(ref)["$id"].endswith(ref.removeprefix("schemas/"))


def test_actions_and_options_match_the_http_surface() -> None:
    """The manifest names the DESIGN §2 paths (a contract)."""
    data = manifest.load_manifest()
    routes = {(a["key"], a["method"], a["path"]) for a in data["actions"]}
    assert routes == {
        ("create_phone_call", "POST", "/v1/actions/create-phone-call"),
        ("get_call", "GET", "/v1/actions/get-call"),
        ("queue_phone_call", "POST", "/v1/actions/queue-phone-call"),
        ("find_queued_call", "GET", "/v1/actions/find-queued-call"),
        ("cancel_queued_call", "POST", "/v1/actions/cancel-queued-call"),
        ("save_caller_context", "PUT", "/v1/inbound/contacts/{phone_number}"),
        ("delete_caller_context", "DELETE", "/v1/inbound/contacts/{phone_number}"),
    }
    assert {o["path"] for o in data["options"]} == {
        "/v1/options/phone-numbers",
        "/v1/options/agents",
        "/v1/options/agent-versions",
    }
    assert data["auth"]["test"]["path"] == "/v1/me"
    assert [t["key"] for t in data["triggers"]] == ["call_events"]


@pytest.mark.parametrize("key", ["create_phone_call", "queue_phone_call"])
def test_dialling_actions_declare_idempotency(key: str) -> None:
    """Create and Queue Phone Call name the Idempotency-Key header and idempotency_key field."""
    (action,) = [a for a in manifest.load_manifest()["actions"] if a["key"] == key]
    assert action["idempotency"]["header"] == "Idempotency-Key"
    assert action["idempotency"]["field"] == "idempotency_key"


def test_every_subscribable_event_has_a_label() -> None:
    """The trigger offers, labelled, exactly the events its subscription accepts."""
    (trigger,) = manifest.load_manifest()["triggers"]
    accepted = manifest.load_schema(trigger["subscribe"]["input"])["properties"]["events"]
    assert [e["value"] for e in trigger["events"]] == accepted["items"]["enum"]
    assert all(e["label"] and e["when"] for e in trigger["events"])


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://connector.example.com", "https://connector.example.com"),
        ("https://connector.example.com/", "https://connector.example.com"),
        ("http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix"),
    ],
)
def test_render_manifest_fills_base_url(base_url: str, expected: str) -> None:
    """render_manifest replaces the placeholder and the result still validates."""
    rendered = manifest.render_manifest(base_url)
    assert rendered["base_url"] == expected
    assert list(manifest.schema_validator("manifest.schema").iter_errors(rendered)) == []


def test_render_manifest_leaves_the_cached_manifest_alone() -> None:
    """Rendering returns a copy; the placeholder stays in what load_manifest returns."""
    manifest.render_manifest("https://a.example")
    assert manifest.load_manifest()["base_url"] == manifest.BASE_URL_PLACEHOLDER


@pytest.mark.parametrize("base_url", ["", "ftp://x.example", "connector.example.com"])
def test_render_manifest_rejects_non_http_urls(base_url: str) -> None:
    """Only http(s) base URLs are accepted."""
    with pytest.raises(ValueError, match="base_url"):
        manifest.render_manifest(base_url)


@pytest.mark.parametrize("name", ["call", "call.json", "schemas/call.json"])
def test_load_schema_accepts_name_forms(name: str) -> None:
    """A schema loads by stem, file name or manifest ref."""
    assert manifest.load_schema(name)["title"] == "Retell call"


@pytest.mark.parametrize(
    "name",
    ["../x", "../manifest", "..", "schemas/../manifest", "/etc/passwd", "a/b", "CALL", "nope", ""],
)
def test_load_schema_rejects_traversal_and_unknown_names(name: str) -> None:
    """Names that are not plain schema file names never reach the disk."""
    with pytest.raises(manifest.UnknownSchema):
        manifest.load_schema(name)


def test_unknown_schema_is_a_key_error() -> None:
    """Callers mapping KeyError to 404 catch UnknownSchema too."""
    with pytest.raises(KeyError, match="no schema named 'nope'"):
        manifest.load_schema("nope")


def test_load_schema_returns_a_private_copy() -> None:
    """Changing a loaded schema does not change the next load."""
    manifest.load_schema("call")["title"] = "changed"
    assert manifest.load_schema("call")["title"] == "Retell call"


def test_registry_resolves_every_schema_by_id() -> None:
    """The registry holds every schema under its $id."""
    reg = manifest.registry()
    for name in manifest.schema_names():
        assert reg.contents(manifest.SCHEMA_BASE_URI + name)["$id"].endswith(name)


def test_ref_between_files_resolves_offline() -> None:
    """A relative $ref to another schema file resolves through the registry."""
    from jsonschema import Draft202012Validator

    schema = {"$id": manifest.SCHEMA_BASE_URI + "wrapper.json", "$ref": "call.json"}
    validator = Draft202012Validator(schema, registry=manifest.registry())
    assert not validator.is_valid({"call_id": "x"})
    assert validator.is_valid(
        {"call_id": "x", "call_type": "t", "agent_id": "a", "call_status": "s"}
    )


def test_check_accepts_a_valid_trigger(tmp_path: Path) -> None:
    """The manifest schema allows the call-events trigger a later issue adds."""
    root = copy_root(tmp_path)
    trigger = {
        "key": "call_event",
        "noun": "Call event",
        "label": "New Call Event",
        "description": "Triggers when a call starts, ends or is analyzed.",
        "events": [{"value": "call_ended", "label": "Call ended", "default": True}],
        "filters": [
            {
                "key": "agent_id",
                "label": "Agent",
                "description": "Only this agent's calls.",
                "type": "string",
                "options": {"source": "/v1/options/agents"},
            }
        ],
        "subscribe": {"method": "POST", "path": "/v1/triggers/call-events/subscriptions"},
        "unsubscribe": {"method": "DELETE", "path": "/v1/triggers/call-events/subscriptions/{id}"},
        "poll": {"method": "GET", "path": "/v1/triggers/call-events"},
        "sample": {"method": "GET", "path": "/v1/triggers/call-events/sample"},
        "dedupe_key": "call_id",
        "output": "schemas/call.json",
    }
    edit_json(root, "manifest.json", lambda m: m["triggers"].append(trigger))
    assert manifest.check(root=root) == []


def _del(key: str) -> Callable[[Any], None]:
    return lambda data: data.pop(key)


def _set(path: list[Any], value: object) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for part in path[:-1]:
            data = data[part]
        data[path[-1]] = value

    return change


BROKEN: list[tuple[str, str, Callable[[Any], None], str]] = [
    ("missing-name", "manifest.json", _del("name"), "'name' is a required property"),
    ("bad-kind", "manifest.json", _set(["actions", 0, "kind"], "delete"), "actions[0].kind"),
    ("typo-key", "manifest.json", _set(["actoins"], []), "unknown member 'actoins'"),
    (
        "missing-ref",
        "manifest.json",
        _set(["actions", 0, "output"], "schemas/nope.json"),
        "schemas/nope.json does not exist",
    ),
    (
        "bad-ref-form",
        "manifest.json",
        _set(["actions", 0, "output"], "../call.json"),
        "actions[0].output",
    ),
    (
        "duplicate-key",
        "manifest.json",
        _set(["options", 1, "key"], "phone_numbers"),
        "'phone_numbers' is used more than once",
    ),
    (
        "unknown-option-source",
        "schemas/create-phone-call.input.json",
        _set(["properties", "from_number", "x-options", "source"], "/v1/options/numbers"),
        "x-options source is not a manifest option path",
    ),
    (
        "undocumented-field",
        "schemas/create-phone-call.input.json",
        _set(["properties", "to_number", "description"], ""),
        "property 'to_number' has no description",
    ),
    (
        "untitled-field",
        "schemas/get-call.input.json",
        _set(["properties", "call_id"], {"type": "string", "description": "d"}),
        "property 'call_id' has no title",
    ),
    (
        "bad-schema",
        "schemas/options.json",
        _set(["type"], "list"),
        "schemas/options.json: not a valid JSON Schema 2020-12",
    ),
    (
        "unresolved-ref",
        "schemas/call.json",
        _set(["properties", "latency", "properties", "e2e", "$ref"], "#/$defs/nope"),
        "does not resolve",
    ),
    (
        "unresolved-file-ref",
        "schemas/call.json",
        _set(["properties", "extra"], {"$ref": "missing.json"}),
        "$ref 'missing.json' does not resolve",
    ),
    ("wrong-id", "schemas/me.json", _set(["$id"], "https://x.example/me.json"), "$id must be"),
    (
        "idempotency-field",
        "manifest.json",
        _set(["actions", 0, "idempotency", "field"], "key"),
        "idempotency field not in its input",
    ),
    (
        "connection-label",
        "manifest.json",
        _set(["auth", "connection_label"], "name"),
        "auth.connection_label is not a property",
    ),
    (
        "field-type",
        "schemas/create-phone-call.input.json",
        _set(["properties", "metadata", "x-field-type"], "map"),
        "x-field-type must be one of",
    ),
    (
        "dependent-dropdown-field",
        "manifest.json",
        _set(["options", 2, "parameters", 0, "field"], "agent"),
        "its dropdown reads field 'agent', which is not beside it",
    ),
    (
        "dependent-dropdown-shape",
        "manifest.json",
        _set(["options", 2, "parameters", 0], {"name": "agent_id"}),
        "options[2].parameters[0]",
    ),
    (
        "unlabelled-event",
        "manifest.json",
        lambda data: data["triggers"][0]["events"].pop(),
        "event 'queued_call.expired' is accepted by schemas/subscription.input.json but has no",
    ),
    (
        "unknown-event",
        "manifest.json",
        _set(["triggers", 0, "events", 0, "value"], "call_begun"),
        "event 'call_begun' is not accepted by schemas/subscription.input.json",
    ),
    (
        "path-part-not-an-input",
        "manifest.json",
        _set(["actions", 5, "path"], "/v1/inbound/contacts/{number}"),
        "path part {number} is not a required field of its input",
    ),
    (
        "untitled-shared-field",
        "schemas/create-phone-call.input.json",
        _set(["properties", "to_number", "title"], ""),
        "schemas/queue-phone-call.input.json: property 'to_number' has no title",
    ),
    (
        "responder-field",
        "manifest.json",
        _set(["triggers", 0, "respond", "mode", "field"], "kind"),
        "respond: 'kind' is not a field of the subscribe input",
    ),
    (
        "responder-event",
        "manifest.json",
        _set(["triggers", 0, "respond", "events"], ["call_rang"]),
        "respond: event 'call_rang' is not one of the trigger's events",
    ),
    (
        "dependent-dropdown-filter",
        "manifest.json",
        _set(["triggers", 0, "filters", 0, "options", "source"], "/v1/options/agent-versions"),
        "dropdown reads field 'override_agent_id', which is not a filter",
    ),
]


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_check_reports_breakage(
    tmp_path: Path, file: str, change: Callable[[Any], None], expected: str
) -> None:
    """A broken copy of the manifest or a schema makes check() say what is wrong."""
    root = copy_root(tmp_path)
    edit_json(root, file, change)
    problems = manifest.check(root=root)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("file", ["manifest.json", "schemas/call.json"])
def test_check_reports_unparsable_json(tmp_path: Path, file: str) -> None:
    """A file that is not JSON is reported by name, not raised."""
    root = copy_root(tmp_path)
    (root / file).write_text("{not json", encoding="utf-8")
    assert any(p.startswith(f"{file}: cannot be read as JSON") for p in manifest.check(root=root))


def test_check_reports_missing_manifest_schema(tmp_path: Path) -> None:
    """Without manifest.schema.json the manifest cannot be checked, and check says so."""
    root = copy_root(tmp_path)
    (root / "schemas" / "manifest.schema.json").unlink()
    assert "manifest.json: not checked, schemas/manifest.schema.json is unusable" in (
        manifest.check(root=root)
    )
