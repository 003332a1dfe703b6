"""A platform-neutral form field, read from an input schema: the one mapping every exporter
starts from (DESIGN §8; platforms.md has each platform's field types).

``kind`` is what a form needs to know: ``string``, ``integer``, ``number``, ``boolean``,
``dict`` (key-value pairs, ``x-field-type: dict``), ``json`` (free JSON, ``x-field-type:
json``), ``string-or-integer`` (a version number or tag), or ``array``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.platforms.schema import types_of

__all__ = ["Field", "input_fields", "output_fields", "responder_fields"]


@dataclass(frozen=True)
class Field:
    """One input or output field as a form shows it."""

    key: str
    label: str
    help: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    options_source: str | None = None
    allow_custom: bool = True
    example: Any = None
    default: Any = None
    advanced: bool = False
    text_ok: bool = False  # a json field that also takes plain text (calling hours: "anytime")


def _kind(prop: dict[str, Any]) -> str:
    if prop.get("x-field-type") in ("dict", "json"):
        return str(prop["x-field-type"])
    if "anyOf" in prop:
        branches = {str(branch.get("type")) for branch in prop["anyOf"]}
        return "string-or-integer" if branches == {"integer", "string"} else "json"
    raw = prop.get("type", "string")
    types = [str(t) for t in (raw if isinstance(raw, list) else [raw]) if t != "null"]
    kind = types[0] if types else "string"
    return "json" if kind == "object" else kind


def _label(key: str, prop: dict[str, Any]) -> str:
    """The schema's title, else the key in words ("to_number" → "To number")."""
    return str(prop.get("title") or key.replace("_", " ").capitalize())


def input_fields(schema: dict[str, Any]) -> list[Field]:
    """The fields of an object schema, in the schema's order."""
    required = set(schema.get("required", []))
    fields = []
    for key, prop in schema.get("properties", {}).items():
        options = prop.get("x-options") or {}
        examples = prop.get("examples") or [None]
        choices = prop.get("enum") or (prop.get("items") or {}).get("enum") or ()
        fields.append(
            Field(
                key=key,
                label=_label(key, prop),
                help=str(prop.get("description", "")),
                kind=_kind(prop),
                required=key in required,
                choices=tuple(str(c) for c in choices),
                options_source=options.get("source"),
                allow_custom=bool(options.get("allow_custom", True)),
                example=examples[0],
                default=prop.get("default"),
                advanced=prop.get("x-visibility") == "advanced",
                text_ok=_kind(prop) == "json" and "string" in types_of(prop),
            )
        )
    return fields


def output_fields(schema: dict[str, Any], *, prefix: str = "") -> list[Field]:
    """Labelled output fields: an object schema's properties but hidden ones, nested objects
    flattened with ``__`` (Zapier's convention; other exporters may re-join with their
    separator)."""
    fields = []
    for key, prop in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        if prop.get("x-visibility") == "hidden":
            continue  # a credential (a web call's access token) is never offered
        if prop.get("type") == "object" and prop.get("properties"):
            fields.extend(output_fields(prop, prefix=f"{name}__"))
            continue
        fields.append(
            Field(
                key=name,
                label=_label(key, prop),
                help=str(prop.get("description", "")),
                kind=_kind(prop),
            )
        )
    return fields


def responder_fields(trigger: dict[str, Any]) -> tuple[str, ...]:
    """The subscribe fields that make a responder (the manifest trigger's ``respond``: its
    mode and answer time), for exports whose trigger cannot answer and so leave them out."""
    respond = trigger.get("respond") or {}
    names = [(respond.get("mode") or {}).get("field"), respond.get("timeout_field")]
    return tuple(name for name in names if name)
