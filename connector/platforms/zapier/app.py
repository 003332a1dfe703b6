"""Zapier Platform CLI app, generated from the manifest and schemas (DESIGN §8).

``export`` writes a folder ``zapier-platform push`` accepts: ``package.json`` (an exact
``zapier-platform-core`` pin, which the CLI insists on), ``index.js`` and ``app.json``. The
app is pure JSON: request shorthands where they suffice, ``{source}`` bodies from
``zapier_js`` elsewhere. Every action, trigger and field comes from ``manifest.json`` and
``schemas/``; nothing here names a particular action or field.

What the user gets: API-key auth (the connector's bearer token plus the Connector URL),
``create_phone_call`` with every field of its input schema, ``find_call``, one REST-hook
trigger per default event of the call-events trigger (Call Ended, Call Analyzed) plus
New Call Event for any choice of events, and hidden triggers behind the dynamic dropdowns.

Idempotency key (DESIGN §4: Zapier replays a step for hours; a replay must not dial
again). zapier-platform-core 19's ``Bundle`` typings (``types/custom.d.ts``) list for
``bundle.meta`` only isBulkRead, isFillingDynamicDropdown, isLoadingSample,
isPopulatingDedupe, isTestingAuth, limit, page, withSearch, timezone, paging_token,
inputFields and a *deprecated* ``zap.id`` (documented for performSubscribe/Unsubscribe
only); core's ``src/`` reads none of them for runs. Nothing there names a run or a step;
the one per-run id Zapier hands out, ``bufferedBundle.buffer[].meta.id``, belongs to
buffered creates, an internal-only feature (``BufferConfigSchema``). So the key is derived
from what a replay repeats exactly, the step's rendered input: ``zapier-`` + SHA-256 of the
canonical JSON of ``[action key, request body]``. A replay (manual, autoreplay, a timed-out
step run again) renders the same trigger item through the same mapping, so the key and
body match and the connector answers with the first call. The Zap id is left out on
purpose: were it present on one attempt and missing on the next, the key would change and
the person would be called twice. The cost: two runs with identical input within the
connector's 48 hours (a daily schedule calling the same number) are one call, unless the
user maps something unique (a record ID) into Idempotency key, which is then sent as is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from connector.platforms.fields import Field, input_fields
from connector.platforms.schema import Located, form, path_names, resolve, sample
from connector.platforms.source import PLACEHOLDER_BASE_URL, ConnectorSource
from connector.platforms.zapier import js, tests
from connector.samples import sample_call, sample_events

__all__ = ["CORE_VERSION", "app_definition", "export", "operations", "package_json"]

CORE_VERSION = "19.1.0"
BASE = "{{bundle.authData.base_url}}"
LIST_LIMIT = 3  # the Zap editor shows three samples
_EVENTS_FILTER = "events"  # the trigger filter that picks events; group triggers fix it
ADVANCED = {"key": "advanced", "label": "Advanced", "emphasize": False}
_HELP_MAX = 1000
_SCALAR_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}
_INPUT_TYPES = {**_SCALAR_TYPES, "string-or-integer": "string", "json": "code"}
_KEY_HELP = (
    " In Zapier: leave empty and a key is derived from this step's input, so Zapier's replays"
    " of a run never call twice; map a unique value (such as the trigger's record ID) here if"
    " the same input may rightly repeat within 48 hours, as with a daily schedule."
)
_VERSION_HELP = " In Zapier: digits only (like 3) are sent as a version number."
_CALL = "call.json"  # outputs that are a call get the built-in realistic call as sample
URL_LABEL = "Connector URL"


def export(source: ConnectorSource, out: Path) -> list[Path]:
    """Write the app folder; ``zapier-platform push`` from there uploads it, and
    ``zapier-platform test`` (or ``npm test``) runs its tests."""
    app = app_definition(source)
    files: dict[str, str] = {
        "package.json": json.dumps(package_json(source), indent=2, ensure_ascii=False) + "\n",
        "app.json": json.dumps(app, indent=2, ensure_ascii=False) + "\n",
        "index.js": "module.exports = require('./app.json');\n",
        **tests.test_files(source, operations(source)),
    }
    written = []
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def package_json(source: ConnectorSource) -> dict[str, Any]:
    """``engines.node``: core 19's own package.json still says >=16, but Zapier runs apps of
    platform v18 and later on Node.js 22 (docs.zapier.com, "What's changed in v18.0.0") and the
    v19 CLI refuses older Node ("Requires node version >= v22")."""
    manifest = source.manifest
    return {
        "name": f"{manifest['name']}-zapier",
        "version": manifest["version"],
        "description": manifest["description"],
        "main": "index.js",
        "private": True,
        "scripts": {"test": tests.TEST_SCRIPT},
        "engines": {"node": ">=22"},
        "dependencies": {"zapier-platform-core": CORE_VERSION},
    }


def operations(source: ConnectorSource) -> dict[str, str]:
    """Each action's Zapier method group and key (``searches.find_call``), to its manifest key."""
    found = {}
    for action in source.manifest["actions"]:
        if action["kind"] == "create":
            found[f"creates.{action['key']}"] = action["key"]
        elif action["kind"] == "search":
            found[f"searches.{_search_key(action)}"] = action["key"]
    return found


def app_definition(source: ConnectorSource) -> dict[str, Any]:
    """The Zapier app definition (``AppSchema``) for ``source``."""
    manifest = source.manifest
    dropdowns = _dropdown_triggers(source)
    dynamic = {path: f"{key}.id.name" for key, (path, _trigger) in dropdowns.items()}
    triggers = {key: trigger for key, (_path, trigger) in dropdowns.items()}
    for trigger in manifest["triggers"]:
        triggers.update(_hook_triggers(source, trigger, dynamic))
    creates, searches = {}, {}
    for action in manifest["actions"]:
        if action["kind"] == "create":
            creates[action["key"]] = _create(source, action, dynamic)
        elif action["kind"] == "search":
            search = _search(source, action, dynamic)
            searches[search["key"]] = search
    return {
        "version": manifest["version"],
        "platformVersion": CORE_VERSION,
        "authentication": _authentication(source),
        "requestTemplate": {
            "headers": {
                "Authorization": "Bearer {{bundle.authData.api_key}}",
                "Accept": "application/json",
            }
        },
        "beforeRequest": [js.before_request(URL_LABEL)],
        "afterResponse": [js.after_response(_labels(triggers, creates, searches))],
        "triggers": triggers,
        "searches": searches,
        "creates": creates,
    }


def _labels(*groups: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each input field's label by key, over every operation (the first label wins)."""
    labels: dict[str, str] = {}
    for group in groups:
        for operation in group.values():
            for field in operation["operation"].get("inputFields", []):
                labels.setdefault(field["key"], field.get("label") or field["key"])
    return labels


def _authentication(source: ConnectorSource) -> dict[str, Any]:
    auth = source.manifest["auth"]
    if auth["type"] != "bearer":
        raise ValueError(f"the Zapier export supports bearer auth, not {auth['type']!r}")
    # Exported without --base-url, the URL is a placeholder: shown, never saved as a default.
    url_hint = "placeholder" if source.base_url == PLACEHOLDER_BASE_URL else "default"
    return {
        "type": "custom",
        "fields": [
            {
                "key": "base_url",
                "label": URL_LABEL,
                "type": "string",
                "required": True,
                url_hint: source.base_url,
                "isNoSecret": True,
                "helpText": (
                    f"Where your {source.manifest['label']} connector server runs: its public"
                    " https:// address."
                ),
            },
            {
                "key": "api_key",
                "label": auth["label"],
                "type": "password",
                "required": True,
                "helpText": _help(auth["description"]),
            },
        ],
        "test": {"method": auth["test"]["method"], "url": BASE + auth["test"]["path"]},
        "connectionLabel": f"{{{{bundle.inputData.{auth['connection_label']}}}}}",
    }


def _dropdown_triggers(source: ConnectorSource) -> dict[str, tuple[str, dict[str, Any]]]:
    """A hidden polling trigger per options endpoint, keyed ``options_<key>``, with its path."""
    found = {}
    for option in source.manifest["options"]:
        key = f"options_{option['key']}"
        trigger = {
            "key": key,
            "noun": _title(option["label"]),
            "display": {
                "label": _title(option["label"]),
                "description": _help(option["description"]),
                "hidden": True,
            },
            "operation": {
                "type": "polling",
                "perform": js.options_perform(
                    option["path"], [(p["name"], p["field"]) for p in option.get("parameters", [])]
                ),
            },
        }
        found[key] = (option["path"], trigger)
    return found


def _create(
    source: ConnectorSource, action: dict[str, Any], dynamic: dict[str, str]
) -> dict[str, Any]:
    fields = input_fields(form(source, action["input"]))
    idempotency = action.get("idempotency") or {}
    key_field = idempotency.get("field", "")
    if key_field and idempotency.get("header"):
        fields = [_with_help(f, _KEY_HELP) if f.key == key_field else f for f in fields]
    fields = [_with_help(f, _VERSION_HELP) if f.kind == "string-or-integer" else f for f in fields]
    perform = js.create_perform(
        method=action["method"],
        path=action["path"],
        action=action["key"],
        fields=[(f.key, "json-or-text" if f.text_ok else f.kind, f.label) for f in fields],
        key_header=idempotency.get("header") if key_field else None,
        key_field=key_field,
        path_fields=path_names(action["path"]),
    )
    return _action(
        source, action, action["key"], fields, dynamic, perform, _output_sample(source, action)
    )


def _search(
    source: ConnectorSource, action: dict[str, Any], dynamic: dict[str, str]
) -> dict[str, Any]:
    """Zapier names searches ``find_<noun>``; the manifest's key is kept out of Zapier."""
    if action["method"] != "GET":
        raise ValueError(f"the Zapier export supports GET searches, not {action['method']}")
    fields = input_fields(form(source, action["input"]))
    key = _search_key(action)
    perform = js.search_perform(path=action["path"], params=[f.key for f in fields])
    return _action(source, action, key, fields, dynamic, perform, _output_sample(source, action))


def _output_sample(source: ConnectorSource, action: dict[str, Any]) -> dict[str, Any]:
    """What the Zap editor shows before a test: a call-shaped output gets the built-in call
    (a search finds an analyzed one, a create answers with a registered one, trimmed to the
    fields its output declares); any other output its schema's first example."""
    output = source.schema(action["output"])
    call_fields = source.schemas[_CALL].get("properties", {})
    if set(output.get("properties", {})) <= set(call_fields):
        if action["kind"] == "search":
            return sample_call("call_analyzed")
        return _created_sample(output)
    found = sample(source, (action["output"].rsplit("/", 1)[-1], output))
    return found if isinstance(found, dict) else {}


def _action(
    source: ConnectorSource,
    action: dict[str, Any],
    key: str,
    fields: list[Field],
    dynamic: dict[str, str],
    perform: dict[str, Any],
    sample: dict[str, Any],
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "perform": perform,
        "inputFields": [_input_field(f, dynamic) for f in fields],
        "sample": sample,
        "outputFields": _output_fields(source, action["output"]),
    }
    if any(f.advanced for f in fields):
        operation["inputFieldGroups"] = [ADVANCED]
    return {
        "key": key,
        "noun": _title(action["noun"]),
        "display": {"label": action["label"], "description": _help(action["description"])},
        "operation": operation,
    }


def _created_sample(output: dict[str, Any]) -> dict[str, Any]:
    """create-phone-call answers before the phone rings: a registered call, with only the
    fields its output schema declares."""
    call = {**sample_call("call_started"), "call_status": "registered"}
    return {key: value for key, value in call.items() if key in output.get("properties", {})}


def _hook_triggers(
    source: ConnectorSource, trigger: dict[str, Any], dynamic: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """One trigger per default event (the groups most Zaps want) and per event with an output
    of its own (a connector event: its fields are not a call's), then one for any choice.

    A group trigger fixes its events and offers the other filters; the any-event trigger
    also offers the events picker, left empty meaning the connector's default events. Events
    the poll endpoint does not list take the Zap editor's samples from the sample endpoint.
    """
    defaults = [e for e in trigger["events"] if e.get("default")]
    own = [e for e in trigger["events"] if e.get("output") and not e.get("default")]
    groups: list[tuple[str, str, str, list[str] | None, dict[str, Any] | None]] = [
        (_slug(e["value"]), _title(e["label"]), _event_description(e), [e["value"]], e)
        for e in defaults + own
    ]
    groups.append((trigger["key"], trigger["label"], trigger["description"], None, None))
    described = {f.key: f for f in input_fields(form(source, trigger["subscribe"]["input"]))}
    filters = [_filter_field(spec, described.get(spec["key"])) for spec in trigger["filters"]]
    labels = {e["value"]: e["label"] for e in trigger["events"]}
    unpolled = [e["value"] for e in trigger["events"] if e.get("poll") is False]
    built = {}
    for key, label, description, events, event in groups:
        fields = [f for f in filters if events is None or f.key != _EVENTS_FILTER]
        sent = [f.key for f in fields if f.key != _EVENTS_FILTER]
        output = (event or {}).get("output") or trigger["output"]
        outputs = _output_fields(source, output, primary=trigger["dedupe_key"])
        if event is not None and event.get("output"):
            item = _event_sample(source, output, event["value"])
        else:
            item = sample_events(events or [e["value"] for e in defaults])[0]
        built[key] = {
            "key": key,
            "noun": _title(trigger["noun"]),
            "display": {"label": label, "description": _help(description)},
            "operation": {
                "type": "hook",
                "inputFields": [_input_field(f, dynamic, labels) for f in fields],
                "performSubscribe": js.subscribe(
                    path=trigger["subscribe"]["path"],
                    events=events,
                    events_field=_EVENTS_FILTER,
                    filters=sent,
                ),
                "performUnsubscribe": js.unsubscribe(path=trigger["unsubscribe"]["path"]),
                "perform": js.hook_perform(),
                "performList": js.perform_list(
                    path=trigger["poll"]["path"],
                    events=events,
                    events_field=_EVENTS_FILTER,
                    filters=sent,
                    limit=LIST_LIMIT,
                    sample_path=trigger["sample"]["path"],
                    unpolled=unpolled,
                ),
                "sample": item,
                "outputFields": outputs,
            },
        }
    return built


def _event_sample(source: ConnectorSource, output: str, event: str) -> dict[str, Any]:
    """A connector event's sample: its schema's example of that event, else its first
    example (or one built from its properties) named after the event."""
    schema = source.schema(output)
    for example in schema.get("examples") or []:
        if isinstance(example, dict) and example.get("event") == event:
            return dict(example)
    built = sample(source, (output.rsplit("/", 1)[-1], schema))
    return {**(built if isinstance(built, dict) else {}), "event": event}


def _event_description(event: dict[str, Any]) -> str:
    """Zapier's "Triggers when …" sentence, then what the event brings."""
    when = event.get("when") or f"a {_title(event['label'])} event arrives"
    return f"Triggers when {when}. {event.get('description', '')}".strip()


def _filter_field(spec: dict[str, Any], described: Field | None) -> Field:
    """A trigger filter as the manifest words it, typed by the subscription input schema."""
    options = spec.get("options") or {}
    many = spec.get("type") == "array"
    return Field(
        key=spec["key"],
        label=spec["label"],
        help=spec.get("description", ""),
        kind="array" if many else (described.kind if described else "string"),
        required=bool(spec.get("required", False)),
        choices=described.choices if described else (),
        options_source=options.get("source") or (described.options_source if described else None),
        example=None if many or described is None else described.example,
    )


def _input_field(
    field: Field, dynamic: dict[str, str], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A neutral field as a Zapier ``inputField`` (platforms.md §6 mapping)."""
    out: dict[str, Any] = {"key": field.key, "label": field.label, "required": field.required}
    if field.help:
        out["helpText"] = _help(field.help)
    if field.kind == "dict":
        out["dict"] = True
    elif field.kind == "array":
        out["type"] = "string"
        out["list"] = True
    else:
        out["type"] = _INPUT_TYPES.get(field.kind, "string")
    if field.options_source and field.options_source in dynamic:
        out["dynamic"] = dynamic[field.options_source]
    elif field.choices:
        names = labels or {}
        out["choices"] = [
            {"value": c, "label": names.get(c, c), "sample": c} for c in field.choices
        ]
    placeholder = _placeholder(field)
    if placeholder:
        out["placeholder"] = placeholder
    if isinstance(field.default, str) and field.default:
        out["default"] = field.default
    if field.advanced:
        out["group"] = ADVANCED["key"]
    return out


def _placeholder(field: Field) -> str | None:
    if field.example is None or field.kind in ("dict", "array", "boolean"):
        return None
    if field.kind == "json":
        return json.dumps(field.example, ensure_ascii=False)
    return str(field.example)


def _output_fields(
    source: ConnectorSource, ref: str, *, primary: str | None = None
) -> list[dict[str, Any]]:
    """Labelled scalar outputs of the schema ``ref`` names (see ``_outputs``)."""
    file = ref.rsplit("/", 1)[-1]
    return _outputs(source, (file, source.schemas[file]), primary=primary, prefix="")


def _outputs(
    source: ConnectorSource, located: Located, *, primary: str | None, prefix: str
) -> list[dict[str, Any]]:
    """Labelled scalar outputs, nested objects (nullable ones too) flattened with ``__``.

    A property that is another schema's property (``call.json#/properties/call_id``) is
    followed; ``$defs`` (lists, transcripts, latency stats) and open objects are left to
    Zapier, which labels them from samples. ``x-visibility: hidden`` properties (credentials
    such as a web call's access token) are never offered.
    """
    fields: list[dict[str, Any]] = []
    file, schema = located
    for key, own in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        ref = own.get("$ref")
        prop_file, prop = (
            resolve(source, (file, own))
            if isinstance(ref, str) and "#/properties/" in ref
            else (file, own)
        )
        if "hidden" in (own.get("x-visibility"), prop.get("x-visibility")):
            continue
        types = _types(prop)
        if "object" in types and prop.get("properties"):
            nested = _outputs(source, (prop_file, prop), primary=None, prefix=f"{name}__")
            fields.extend(nested)
            continue
        if "$ref" in prop or len(types) != 1 or types[0] not in _SCALAR_TYPES:
            continue
        kind = "datetime" if prop.get("format") == "date-time" else _SCALAR_TYPES[types[0]]
        field: dict[str, Any] = {"key": name, "label": _label(key, prop), "type": kind}
        if name == primary:
            field["primary"] = True
        fields.append(field)
    return fields


def _types(prop: dict[str, Any]) -> list[str]:
    raw = prop.get("type", [])
    return [str(t) for t in (raw if isinstance(raw, list) else [raw]) if t != "null"]


def _label(key: str, prop: dict[str, Any]) -> str:
    return str(prop.get("title") or key.replace("_", " ").capitalize())


def _with_help(field: Field, extra: str) -> Field:
    return Field(**{**field.__dict__, "help": field.help + extra})


def _help(text: str) -> str:
    return text if len(text) <= _HELP_MAX else text[: _HELP_MAX - 1].rstrip() + "…"


def _title(label: str) -> str:
    """``Call analyzed (summary, …)`` → ``Call Analyzed``: Zapier's title case, no aside."""
    bare = re.sub(r"\s*\(.*?\)\s*", " ", label).strip()
    return " ".join(word[:1].upper() + word[1:] for word in bare.split())


def _search_key(action: dict[str, Any]) -> str:
    return "find_" + _slug(action["noun"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
