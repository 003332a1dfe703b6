"""JSON Schema 2020-12 → the Swagger 2.0 schema dialect Power Automate reads (with ``x-ms-*``).

Swagger 2.0 schemas are a draft-04 subset with no ``anyOf``/``oneOf``, no ``$defs``, no
``if``/``then``, no ``patternProperties``, no ``const`` and one ``type`` per schema. The
conversion keeps what a flow designer shows and what the service accepts:

* ``title`` → ``x-ms-summary`` (the label); ``x-visibility: advanced`` → ``x-ms-visibility``;
  required input fields → ``x-ms-visibility: important``;
* ``x-options`` (a dropdown source path) → ``x-ms-dynamic-values`` pointing at the options
  operation (``value-path: value``, ``value-title: label``);
* ``type: [X, "null"]`` → ``type: X`` plus ``x-nullable: true`` (the AutoRest convention);
* a union of types: text for inputs when text is one of them (the connector converts
  digits-only text, e.g. an agent version), ``number`` for integer|number, else untyped;
* ``const`` → a one-value ``enum``; an ``enum`` without ``type`` gets the values' type;
* ``allOf`` with ``if``/``then`` branches → one object with every branch's properties;
* ``patternProperties`` → ``additionalProperties`` (the extra keys stay allowed, unnamed);
* ``$ref`` to another file or to ``#/$defs/x`` → ``#/definitions/<File><X>``; a ``$ref`` to
  another schema's property (``call.json#/properties/call_id``) is inlined;
* ``x-visibility: hidden`` (a credential in an output) → ``x-ms-visibility: internal``;
* ``examples[0]`` → ``example`` (when it fits the converted type); formats Power Platform
  does not know (``uri-reference``) and keywords without an equivalent are dropped;
* length, range and pattern checks are kept for inputs only: outputs are described, and the
  connector (not the platform) is the one to validate what it sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.platforms.schema import (
    Located,
    merged_properties,
    nullable,
    pascal,
    resolve,
    types_of,
)
from connector.platforms.source import ConnectorSource

__all__ = ["SwaggerSchemas", "definition_name"]

# Formats the Power Platform swagger schema accepts (its ``format`` enum).
PA_FORMATS = frozenset(
    {
        "int32",
        "int64",
        "float",
        "double",
        "byte",
        "binary",
        "date",
        "date-time",
        "password",
        "date-no-tz",
        "email",
        "html",
        "uri",
        "uuid",
    }
)
_STRING_KEYWORDS = ("minLength", "maxLength", "pattern")
_NUMBER_KEYWORDS = ("minimum", "maximum")
_ARRAY_KEYWORDS = ("minItems", "maxItems", "uniqueItems")
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def definition_name(file: str, def_name: str | None = None) -> str:
    """``call.json`` → ``Call``; ``call.json`` + ``$defs/latency_stats`` → ``CallLatencyStats``."""
    return pascal(file.removesuffix(".json")) + (pascal(def_name) if def_name else "")


def _fits(value: object, kind: str | None) -> bool:
    if kind is None:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


@dataclass
class SwaggerSchemas:
    """Converts schemas and collects the ``definitions`` their ``$ref``s need.

    ``dropdowns`` maps an options path (``/v1/options/agents``) to the operationId that
    serves it; ``dropdown_inputs`` maps a dependent one's path to ``{query name: field}``,
    the sibling fields whose values the operation is called with. ``inputs`` switches on
    the form-only conversions (visibility, text unions).
    """

    source: ConnectorSource
    dropdowns: dict[str, str]
    dropdown_inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    _wanted: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def convert(self, located: Located, *, inputs: bool = False) -> dict[str, Any]:
        """One schema node in Swagger 2.0 form."""
        file, node = located
        ref = node.get("$ref")
        if isinstance(ref, str) and "/properties/" in ref.partition("#")[2]:
            # Another schema's property (created-call.json lists call.json's): inline it.
            return self.convert(resolve(self.source, located), inputs=inputs)
        if isinstance(ref, str):
            return {"$ref": self._ref(file, ref)}
        out: dict[str, Any] = {}
        if "title" in node:
            out["x-ms-summary"] = str(node["title"])
        if "description" in node:
            out["description"] = str(node["description"])
        kind = self._type(node, inputs=inputs)
        if kind is not None:
            out["type"] = kind
            if nullable(node):
                out["x-nullable"] = True
        self._keywords(node, out, kind, inputs=inputs)
        if kind == "array" or "items" in node:
            items = node.get("items")
            out["items"] = self.convert((file, items), inputs=inputs) if items else {}
        if kind == "object" or "properties" in node or "allOf" in node:
            self._object(located, out, inputs=inputs)
        options = node.get("x-options")
        if isinstance(options, dict) and options.get("source") in self.dropdowns:
            out["x-ms-dynamic-values"] = {
                "operationId": self.dropdowns[options["source"]],
                "value-path": "value",
                "value-title": "label",
            }
            inputs_of = self.dropdown_inputs.get(options["source"])
            if inputs_of:
                out["x-ms-dynamic-values"]["parameters"] = {
                    name: {"parameter": sibling} for name, sibling in inputs_of.items()
                }
        if inputs and node.get("x-visibility") == "advanced":
            out["x-ms-visibility"] = "advanced"
        if node.get("x-visibility") == "hidden":
            out["x-ms-visibility"] = "internal"  # never offered as dynamic content
        return out

    def definitions(self) -> dict[str, dict[str, Any]]:
        """Every definition a converted schema referred to, transitively, sorted by name."""
        done: dict[str, dict[str, Any]] = {}
        while pending := [name for name in self._wanted if name not in done]:
            for name in pending:
                file, def_name = self._wanted[name]
                schema = self.source.schemas[file]
                node = schema["$defs"][def_name] if def_name else schema
                done[name] = self.convert((file, node))
        return dict(sorted(done.items()))

    def _ref(self, file: str, ref: str) -> str:
        target, _, pointer = ref.partition("#")
        target_file = target.rsplit("/", 1)[-1] if target else file
        parts = [p for p in pointer.split("/") if p]
        if parts and (len(parts) != 2 or parts[0] != "$defs"):
            raise ValueError(f"cannot convert $ref {ref!r} in {file}")
        def_name = parts[1] if parts else None
        name = definition_name(target_file, def_name)
        self._wanted[name] = (target_file, def_name)
        return f"#/definitions/{name}"

    @staticmethod
    def _type(node: dict[str, Any], *, inputs: bool) -> str | None:
        kinds = types_of(node)
        if "properties" in node and not kinds:
            return "object"
        if len(kinds) == 1:
            return kinds[0]
        if inputs and "string" in kinds:
            return "string"
        if kinds and set(kinds) <= {"integer", "number"}:
            return "number"
        return None

    @staticmethod
    def _keywords(
        node: dict[str, Any], out: dict[str, Any], kind: str | None, *, inputs: bool
    ) -> None:
        values = node.get("enum") or ([node["const"]] if "const" in node else None)
        if values and kind is not None:
            out["enum"] = [v for v in values if v is not None]
        if "default" in node:
            out["default"] = node["default"]
        fitting = [e for e in node.get("examples", []) if e is not None and _fits(e, kind)]
        if fitting:
            out["example"] = fitting[0]
        if kind == "string" and node.get("format") in PA_FORMATS:
            out["format"] = node["format"]
        if not inputs:  # outputs are described, not checked
            return
        keywords = {
            "string": _STRING_KEYWORDS,
            "integer": _NUMBER_KEYWORDS,
            "number": _NUMBER_KEYWORDS,
            "array": _ARRAY_KEYWORDS,
        }.get(kind or "", ())
        out.update({k: node[k] for k in keywords if k in node})

    def _object(self, located: Located, out: dict[str, Any], *, inputs: bool) -> None:
        file, node = located
        required = [str(r) for r in node.get("required", [])]
        properties: dict[str, Any] = {}
        for key, prop in merged_properties(self.source, located).items():
            converted = self.convert(prop, inputs=inputs)
            if inputs and key in required and "$ref" not in converted:
                converted.setdefault("x-ms-visibility", "important")
            properties[key] = converted
        if properties:
            out["properties"] = properties
        kept = [r for r in required if r in properties]
        if kept:
            out["required"] = kept
        extra = node.get("additionalProperties")
        if extra is False:
            out["additionalProperties"] = False
        elif isinstance(extra, dict):
            out["additionalProperties"] = self.convert((file, extra), inputs=inputs)
        elif isinstance(node.get("patternProperties"), dict):
            patterns = list(node["patternProperties"].values())
            only = patterns[0] if len(patterns) == 1 else {}
            out["additionalProperties"] = self.convert((file, only), inputs=inputs)
