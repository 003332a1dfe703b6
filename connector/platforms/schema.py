"""Reading the 2020-12 schemas the way a form-based platform needs them.

Platforms such as Power Automate (Swagger 2.0) and Make (parameter lists) cannot express
``$ref`` across files, ``if``/``then`` branches or type unions, so their exporters need the
same few questions answered: where does this ``$ref`` lead, which properties can an object
have in any branch, what is its one type, and what does a realistic sample look like.
Nothing here mutates the (cached) schemas it reads.
"""

from __future__ import annotations

import re
from typing import Any

from connector.platforms.source import ConnectorSource

__all__ = [
    "Located",
    "absolute_refs",
    "camel",
    "form",
    "kebab",
    "merged_properties",
    "nullable",
    "pascal",
    "path_names",
    "resolve",
    "sample",
    "types_of",
]

# A schema node together with the file it belongs to, so that its own "#/$defs/..." refs
# resolve against the right file.
Located = tuple[str, dict[str, Any]]

_WORD = re.compile(r"[A-Za-z0-9]+")
_MAX_DEPTH = 12


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def pascal(text: str) -> str:
    """``call_events`` / ``call-events.json`` / ``Call event`` → ``CallEvents``-style names."""
    return "".join(word[:1].upper() + word[1:] for word in _words(text))


def camel(text: str) -> str:
    """``create_phone_call`` → ``createPhoneCall``, ``API token`` → ``apiToken`` (Make ids)."""
    first, *rest = _words(text) or [""]
    return first.lower() + pascal(" ".join(rest))


def kebab(text: str) -> str:
    """``createPhoneCall`` / ``create_phone_call`` → ``create-phone-call`` (file names)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    return "-".join(word.lower() for word in _words(spaced))


def resolve(source: ConnectorSource, located: Located) -> Located:
    """Follow ``$ref`` (``#/$defs/x`` in the same file, or another file's name) to its target."""
    file, node = located
    for _ in range(_MAX_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return file, node
        target_file, _, pointer = ref.partition("#")
        if target_file:
            file = target_file.rsplit("/", 1)[-1]
        node = source.schemas[file]
        for part in (p for p in pointer.split("/") if p):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    raise ValueError(f"$ref chain too deep in {file}")


def absolute_refs(node: Any, file: str) -> Any:
    """``node`` with its local refs (``#/$defs/x``) made to name ``file``, so that they still
    resolve once the node is copied into another schema."""
    if isinstance(node, dict):
        return {
            key: f"{file}{value}"
            if key == "$ref" and isinstance(value, str) and value.startswith("#")
            else absolute_refs(value, file)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [absolute_refs(item, file) for item in node]
    return node


def form(source: ConnectorSource, ref: str) -> dict[str, Any]:
    """An input schema as a form reads it: each property that is a ``$ref`` (Queue Phone
    Call's fields are Create Phone Call's, Save Caller Context's are the inbound answer's)
    replaced by what it points at, keywords written beside the ``$ref`` winning. The copied
    nodes' own local refs are made to name their file, so they still resolve."""
    file = ref.rsplit("/", 1)[-1]
    schema = source.schemas[file]
    properties: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        if isinstance(prop, dict) and isinstance(prop.get("$ref"), str):
            target_file, target = resolve(source, (file, prop))
            beside = {k: v for k, v in prop.items() if k != "$ref"}
            prop = {**absolute_refs(target, target_file), **beside}
        properties[key] = prop
    return {**schema, "properties": properties}


def path_names(path: str) -> list[str]:
    """The ``{name}`` parts of an endpoint path, in order (``/v1/x/{id}`` → ``["id"]``): for
    an action, input fields that travel in the path instead of the body or query."""
    return re.findall(r"\{([^{}/]+)\}", path)


def merged_properties(source: ConnectorSource, located: Located) -> dict[str, Located]:
    """Every property an object may have: its own, plus those of ``allOf``/``then``/``else``
    branches (a tagged union such as a transcript entry becomes one flat object)."""
    file, node = resolve(source, located)
    found: dict[str, Located] = {}
    branches: list[dict[str, Any]] = [node]
    for sub in node.get("allOf", []):
        branches.extend(b for b in (sub, sub.get("then"), sub.get("else")) if isinstance(b, dict))
    for branch in branches:
        branch_file, branch_node = resolve(source, (file, branch))
        if branch_node is not node and branch_node.get("allOf"):
            nested = merged_properties(source, (branch_file, branch_node))
            for key, value in nested.items():
                found.setdefault(key, value)
            continue
        for key, prop in branch_node.get("properties", {}).items():
            found.setdefault(key, (branch_file, prop))
    return found


def types_of(node: dict[str, Any]) -> list[str]:
    """The JSON types a schema allows besides null, from ``type``, ``const``/``enum`` or
    ``anyOf``/``oneOf`` branches; empty when anything goes."""
    raw = node.get("type")
    if raw is not None:
        types = raw if isinstance(raw, list) else [raw]
        return [str(t) for t in types if t != "null"]
    values = node.get("enum") or ([node["const"]] if "const" in node else [])
    if values:
        found = {_json_type(v) for v in values if v is not None}
        return sorted(found)
    branches = node.get("anyOf") or node.get("oneOf") or []
    found_types: list[str] = []
    for branch in branches:
        for kind in types_of(branch):
            if kind not in found_types:
                found_types.append(kind)
    return found_types


def nullable(node: dict[str, Any]) -> bool:
    """Whether a schema allows null (``type`` lists it)."""
    raw = node.get("type")
    return isinstance(raw, list) and "null" in raw


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def sample(source: ConnectorSource, located: Located, depth: int = 0) -> Any:
    """A realistic value: the schema's first example, else one built from its properties'."""
    file, node = resolve(source, located)
    examples = node.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if depth > _MAX_DEPTH:
        return None
    kinds = types_of(node)
    if "object" in kinds or "properties" in node:
        built = {}
        for key, prop in merged_properties(source, (file, node)).items():
            value = sample(source, prop, depth + 1)
            if value is not None:
                built[key] = value
        return built
    if "array" in kinds and isinstance(node.get("items"), dict):
        item = sample(source, (file, node["items"]), depth + 1)
        return [] if item is None else [item]
    return None
