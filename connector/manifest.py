"""The connector as data: ``manifest.json`` and the JSON Schemas in ``schemas/``.

The files are the published contract and the single source of truth; code reads them and
never restates them. Paths are found from this file, never from the working directory.
Every function takes ``root`` (the directory holding ``manifest.json`` and ``schemas/``) so
``check`` can be pointed at a broken copy in tests; it defaults to this repository.

Each schema's ``$id`` is ``SCHEMA_BASE_URI`` + its file name, so a ``$ref`` between schema
files is just the file name (``"call.json"``) and resolves offline through ``registry()``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

__all__ = [
    "BASE_URL_PLACEHOLDER",
    "ROOT",
    "SCHEMA_BASE_URI",
    "SCHEMA_DIR",
    "UnknownSchema",
    "check",
    "load_manifest",
    "load_schema",
    "registry",
    "render_manifest",
    "schema_file",
    "schema_names",
    "schema_validator",
]

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "schemas"
SCHEMA_BASE_URI = "https://retell-connector.dev/schemas/"
BASE_URL_PLACEHOLDER = "{{base_url}}"

_NAME = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")
_FIELD_TYPES = frozenset({"dict", "json"})
_VISIBILITIES = frozenset({"advanced", "hidden"})  # hidden: never offered as a field


class UnknownSchema(KeyError):
    """No schema file has this name (or the name is not a plain file name)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def schema_file(name: str, *, root: Path = ROOT) -> Path:
    """The file of schema ``name`` ("call", "call.json" or "schemas/call.json")."""
    stem = name.removeprefix("schemas/").removesuffix(".json")
    # A strict name pattern, not path arithmetic: "../x", "a/b" and "\\x" never reach the disk.
    if not _NAME.fullmatch(stem):
        raise UnknownSchema(f"not a schema name: {name!r}")
    path = root / "schemas" / f"{stem}.json"
    if not path.is_file():
        raise UnknownSchema(f"no schema named {name!r}")
    return path


@functools.cache
def _read(path: Path) -> Any:
    """Parsed JSON of a file, read once per process (the server reads these per request)."""
    return json.loads(path.read_text(encoding="utf-8"))


def load_manifest(*, root: Path = ROOT) -> dict[str, Any]:
    """The manifest as written, with the ``{{base_url}}`` placeholder; a private copy."""
    return cast(dict[str, Any], copy.deepcopy(_read(root / "manifest.json")))


def load_schema(name: str, *, root: Path = ROOT) -> dict[str, Any]:
    """One schema by name ("call" or "call.json"); a private copy the caller may change."""
    return cast(dict[str, Any], copy.deepcopy(_read(schema_file(name, root=root))))


def schema_names(*, root: Path = ROOT) -> list[str]:
    """File names of all schemas, sorted ("call.json", ...)."""
    return sorted(p.name for p in (root / "schemas").glob("*.json") if _NAME.fullmatch(p.stem))


@functools.cache
def registry(*, root: Path = ROOT) -> Registry[Any]:
    """Every schema keyed by its ``$id``, so refs between schemas resolve without a network."""
    return _registry_of({name: _read(root / "schemas" / name) for name in schema_names(root=root)})


@functools.cache
def schema_validator(name: str, *, root: Path = ROOT) -> Validator:
    """A ready ``Draft202012Validator`` for schema ``name``, built once (compiling is not free)."""
    schema = _read(schema_file(name, root=root))
    return Draft202012Validator(schema, registry=registry(root=root))


def render_manifest(base_url: str, *, root: Path = ROOT) -> dict[str, Any]:
    """The manifest as served: ``base_url`` filled in (without a trailing slash)."""
    url = base_url.strip().rstrip("/")
    if not re.fullmatch(r"https?://\S+", url):
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    manifest = load_manifest(root=root)
    manifest["base_url"] = url
    return manifest


def check(*, root: Path = ROOT) -> list[str]:
    """Every problem with manifest.json and schemas/ in words; empty when all is well.

    Reads the files afresh (no cache), so ``retell-connector check`` sees edits at once.
    """
    problems: list[str] = []
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "schemas").glob("*.json")):
        schema = _parse(path, f"schemas/{path.name}", problems)
        problems.extend(_check_schema_file(path.name, schema))
        if isinstance(schema, dict):
            schemas[path.name] = schema
    manifest = _parse(root / "manifest.json", "manifest.json", problems)
    reg = _registry_of(schemas)
    problems.extend(_check_refs(schemas, reg))
    meta = schemas.get("manifest.schema.json")
    if meta is None or not Draft202012Validator(Draft202012Validator.META_SCHEMA).is_valid(meta):
        problems.append("manifest.json: not checked, schemas/manifest.schema.json is unusable")
        return problems
    if manifest is None:
        return problems
    validator = Draft202012Validator(meta, registry=reg)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        problems.append(f"manifest.json at {error.json_path}: {_say(error)}")
    if not errors:
        problems.extend(_check_manifest(manifest, schemas, reg))
    return problems


def _say(error: ValidationError) -> str:
    """jsonschema's message, except for unknown members, where it lists regexes instead."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known and not k.startswith("x-")]
        return "unknown member " + ", ".join(map(repr, extra)) + " (extensions start with x-)"
    return str(error.message)


def _registry_of(schemas: dict[str, dict[str, Any]]) -> Registry[Any]:
    """A registry of already-parsed schemas keyed by ``$id`` (their ``$schema`` is ignored)."""
    resources = [
        (schema.get("$id", SCHEMA_BASE_URI + name), DRAFT202012.create_resource(schema))
        for name, schema in schemas.items()
    ]
    return Registry().with_resources(resources)


def _parse(path: Path, where: str, problems: list[str]) -> Any:
    """JSON of ``path``, or None after noting why it could not be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{where}: cannot be read as JSON ({exc})")
        return None


def _check_schema_file(name: str, schema: Any) -> Iterator[str]:
    """A schema file is a valid 2020-12 schema with the ``$id`` its file name implies."""
    where = f"schemas/{name}"
    if schema is None:
        return  # already reported as unreadable
    if not isinstance(schema, dict):
        yield f"{where}: is not a JSON object"
        return
    if not _NAME.fullmatch(name.removesuffix(".json")):
        yield f"{where}: file names are lower case letters, digits, dots and dashes"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        yield f"{where}: not a valid JSON Schema 2020-12 ({exc.message} at {exc.json_path})"
    if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
        yield f"{where}: $schema must be https://json-schema.org/draft/2020-12/schema"
    if schema.get("$id") != SCHEMA_BASE_URI + name:
        yield f"{where}: $id must be {SCHEMA_BASE_URI + name}"
    for pointer, node in _walk(schema, "#"):
        options = node.get("x-options")
        if options is not None and not (
            isinstance(options, dict) and isinstance(options.get("source"), str)
        ):
            yield f"{where} at {pointer}: x-options must be an object with a source path"
        if node.get("x-field-type", "dict") not in _FIELD_TYPES:
            yield f"{where} at {pointer}: x-field-type must be one of {sorted(_FIELD_TYPES)}"
        if node.get("x-visibility", "advanced") not in _VISIBILITIES:
            yield f"{where} at {pointer}: x-visibility must be one of {sorted(_VISIBILITIES)}"
        messages = node.get("x-messages", {})
        if not isinstance(messages, dict) or not all(isinstance(m, str) for m in messages.values()):
            yield f"{where} at {pointer}: x-messages must map keywords to message text"


def _check_refs(schemas: dict[str, dict[str, Any]], reg: Registry[Any]) -> Iterator[str]:
    """Every ``$ref`` in every schema resolves, offline."""
    for name, schema in schemas.items():
        resolver = reg.resolver(base_uri=schema.get("$id", SCHEMA_BASE_URI + name))
        for pointer, node in _walk(schema, "#"):
            ref = node.get("$ref")
            if not isinstance(ref, str):
                continue
            try:
                resolver.lookup(ref)
            except Unresolvable:
                yield f"schemas/{name} at {pointer}: $ref {ref!r} does not resolve"


def _check_dependent_dropdowns(
    manifest: dict[str, Any], schemas: dict[str, dict[str, Any]]
) -> Iterator[str]:
    """A dropdown whose option reads other fields (``parameters``) sits beside those fields."""
    needs = {o["path"]: [p["field"] for p in o.get("parameters", [])] for o in manifest["options"]}
    for name, schema in schemas.items():
        for pointer, node in _walk(schema, "#"):
            properties = node.get("properties")
            if not isinstance(properties, dict):
                continue
            for key, prop in properties.items():
                options = prop.get("x-options") if isinstance(prop, dict) else None
                source = options.get("source") if isinstance(options, dict) else None
                for field in needs.get(source, []) if isinstance(source, str) else []:
                    if field not in properties:
                        yield (
                            f"schemas/{name} at {pointer}/properties/{key}: its dropdown reads "
                            f"field {field!r}, which is not beside it"
                        )
    filters = {t["key"]: {f["key"] for f in t.get("filters", [])} for t in manifest["triggers"]}
    for trigger in manifest["triggers"]:
        for spec in trigger.get("filters", []):
            for field in needs.get((spec.get("options") or {}).get("source"), []):
                if field not in filters[trigger["key"]]:
                    yield (
                        f"manifest.json: trigger {trigger['key']!r}: filter {spec['key']!r} "
                        f"dropdown reads field {field!r}, which is not a filter"
                    )


def _check_manifest(
    manifest: dict[str, Any], schemas: dict[str, dict[str, Any]], reg: Registry[Any]
) -> Iterator[str]:
    """Cross-checks a schema cannot express: refs exist, keys unique, fields documented.
    ``reg`` is ``schemas``' registry, built once by ``check``."""

    def properties_of(ref: str) -> dict[str, Any]:
        return cast(
            dict[str, Any], schemas.get(ref.removeprefix("schemas/"), {}).get("properties", {})
        )

    def followed(ref: str, prop: Any) -> Any:
        """A property as a form shows it: a ``$ref`` (a field shared with another schema)
        followed, the keywords beside it winning."""
        base = schemas.get(ref.removeprefix("schemas/"), {}).get("$id", "")
        resolver = reg.resolver(base_uri=base)
        for _ in range(8):  # a chain of shared fields, bounded
            target = prop.get("$ref") if isinstance(prop, dict) else None
            if not isinstance(target, str):
                break
            try:
                resolved = resolver.lookup(target)
            except Unresolvable:
                break  # reported by _check_refs
            resolver = resolved.resolver
            prop = {**resolved.contents, **{k: v for k, v in prop.items() if k != "$ref"}}
        return prop

    for where, ref in _schema_refs(manifest, "$"):
        if ref.removeprefix("schemas/") not in schemas:
            yield f"manifest.json at {where}: {ref} does not exist"
    keys = [item["key"] for kind in ("actions", "triggers", "options") for item in manifest[kind]]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        yield f"manifest.json: key {key!r} is used more than once"
    for action in manifest["actions"]:
        properties = properties_of(action["input"])
        for field, prop in properties.items():
            prop = followed(action["input"], prop)
            for keyword in ("title", "description"):
                if not (isinstance(prop, dict) and prop.get(keyword)):
                    yield f"{action['input']}: property {field!r} has no {keyword} (forms need it)"
        idempotency = action.get("idempotency")
        if idempotency and idempotency["field"] not in properties:
            yield f"manifest.json: action {action['key']!r}: idempotency field not in its input"
        required = schemas.get(action["input"].removeprefix("schemas/"), {}).get("required", [])
        for name in re.findall(r"\{([^{}/]+)\}", action["path"]):
            if name not in properties or name not in required:
                yield (
                    f"manifest.json: action {action['key']!r}: path part {{{name}}} is not a "
                    "required field of its input"
                )
    sources = {option["path"] for option in manifest["options"]}
    for name, schema in schemas.items():
        for pointer, node in _walk(schema, "#"):
            options = node.get("x-options")
            if isinstance(options, dict) and options.get("source") not in sources:
                yield f"schemas/{name} at {pointer}: x-options source is not a manifest option path"
    yield from _check_dependent_dropdowns(manifest, schemas)
    for trigger in manifest["triggers"]:
        for field in trigger.get("filters", []):
            if "options" in field and field["options"]["source"] not in sources:
                yield (
                    f"manifest.json: trigger {trigger['key']!r}: filter {field['key']!r} "
                    "options source is not a manifest option path"
                )
        yield from _check_events(trigger, schemas)
        yield from _check_respond(trigger, properties_of)
        if trigger["dedupe_key"] not in properties_of(trigger["output"]):
            yield f"manifest.json: trigger {trigger['key']!r}: dedupe_key is not in its output"
    auth = manifest["auth"]
    if auth["connection_label"] not in properties_of(auth["test"]["output"]):
        yield "manifest.json: auth.connection_label is not a property of the test's output"


def _check_events(trigger: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> Iterator[str]:
    """The events a trigger offers are exactly those its subscribe input accepts, so that
    every event a subscription can ask for has a label on every platform."""
    subscribe = trigger.get("subscribe") or {}
    schema = schemas.get(str(subscribe.get("input", "")).removeprefix("schemas/"), {})
    events = schema.get("properties", {}).get("events", {})
    accepted = (events.get("items") or {}).get("enum") if isinstance(events, dict) else None
    if not isinstance(accepted, list):
        return
    offered = [event["value"] for event in trigger["events"]]
    for value in accepted:
        if value not in offered:
            yield (
                f"manifest.json: trigger {trigger['key']!r}: event {value!r} is accepted by "
                f"{subscribe['input']} but has no entry (label) in the trigger's events"
            )
    for value in offered:
        if value not in accepted:
            yield (
                f"manifest.json: trigger {trigger['key']!r}: event {value!r} is not accepted "
                f"by {subscribe['input']}"
            )


def _check_respond(
    trigger: dict[str, Any], properties_of: Callable[[str], dict[str, Any]]
) -> Iterator[str]:
    """A responder's fields are subscribe input fields, its events the trigger's."""
    respond = trigger.get("respond")
    if not respond:
        return
    where = f"manifest.json: trigger {trigger['key']!r}: respond"
    fields = properties_of((trigger.get("subscribe") or {}).get("input", ""))
    for name in (respond["mode"]["field"], respond.get("timeout_field")):
        if name is not None and name not in fields:
            yield f"{where}: {name!r} is not a field of the subscribe input"
    offered = {event["value"] for event in trigger["events"]}
    for value in respond["events"]:
        if value not in offered:
            yield f"{where}: event {value!r} is not one of the trigger's events"


def _schema_refs(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``schemas/...`` string in the manifest, wherever it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _schema_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schema_refs(value, f"{where}[{index}]")
    elif isinstance(node, str) and node.startswith("schemas/"):
        yield where, node


def _walk(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object inside a schema with its JSON pointer."""
    if isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            yield from _walk(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")
