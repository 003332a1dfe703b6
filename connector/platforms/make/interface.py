"""Schemas → Make parameter lists: the form of a module (mappable parameters), the fields it
outputs (interface), and the IML that turns form values into a request body.

Field kinds map as platforms.md §6 suggests:

======================  ===============================================================
neutral kind            Make parameter
======================  ===============================================================
string                  ``text`` (``url`` for URIs, ``select`` for choices or a dropdown)
integer / number        ``integer`` / ``number``
boolean                 ``boolean``
dict (key-value pairs)  ``array`` of ``{key, value}`` items, sent with ``toCollection``
json (free JSON)        ``collection`` of ``any`` when the schema names its keys, else ``any``
string-or-integer       ``text`` (the connector turns digits-only text into a number)
array of choices        ``select`` with ``multiple: true``
======================  ===============================================================

A dropdown fed by an options endpoint is ``select`` with ``options: "rpc://<id>"``, editable so
a user can still type or map a value that is not listed.
"""

from __future__ import annotations

from typing import Any

from connector.platforms.fields import Field
from connector.platforms.schema import Located, merged_properties, resolve, types_of
from connector.platforms.source import ConnectorSource

__all__ = ["body_expression", "input_parameter", "interface"]

Param = dict[str, Any]
_MAX_DEPTH = 8


def input_parameter(
    field: Field,
    located: Located,
    *,
    source: ConnectorSource,
    rpcs: dict[str, str],
    labels: dict[str, str] | None = None,
) -> Param:
    """One mappable parameter for an input field; ``rpcs`` maps options paths to RPC ids and
    ``labels`` gives display labels for choice values."""
    param: Param = {"name": field.key, "label": field.label, "type": "text"}
    if field.help:
        param["help"] = field.help
    if field.required:
        param["required"] = True
    if field.advanced:
        param["advanced"] = True
    param.update(_form_type(field, located, source=source, rpcs=rpcs, labels=labels or {}))
    if field.default is not None:
        param["default"] = field.default
    return param


def _options(values: tuple[str, ...], labels: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": labels.get(v, v), "value": v} for v in values]


def _form_type(
    field: Field,
    located: Located,
    *,
    source: ConnectorSource,
    rpcs: dict[str, str],
    labels: dict[str, str],
) -> Param:
    file, node = resolve(source, located)
    if field.options_source in rpcs:
        return {
            "type": "select",
            "options": f"rpc://{rpcs[field.options_source]}",
            "editable": field.allow_custom,
        }
    if field.kind == "array" and field.choices:
        return {"type": "select", "multiple": True, "options": _options(field.choices, labels)}
    if field.choices:
        return {"type": "select", "options": _options(field.choices, labels)}
    if field.kind == "dict":
        return {
            "type": "array",
            "spec": [
                {"name": "key", "label": "Key", "type": "text", "required": True},
                {"name": "value", "label": "Value", "type": "text"},
            ],
        }
    if field.kind == "json":
        children = merged_properties(source, (file, node))
        if not children:
            return {"type": "any"}
        return {
            "type": "collection",
            "spec": [
                {"name": key, "label": key.replace("_", " ").capitalize(), "type": "any"}
                for key in children
            ],
        }
    if field.kind == "array":
        item = _value_type((file, node.get("items") or {}), source)
        return {"type": "array", "spec": {"type": item, "label": field.label}}
    return {"type": _value_type((file, node), source)}


def _value_type(located: Located, source: ConnectorSource) -> str:
    _, node = resolve(source, located)
    kinds = types_of(node)
    if len(kinds) != 1:
        return "text" if "string" in kinds else "any"
    kind = kinds[0]
    if kind == "string":
        return {"date-time": "date", "uri": "url"}.get(str(node.get("format")), "text")
    return {"integer": "integer", "number": "number", "boolean": "boolean"}.get(kind, "any")


def body_expression(field: Field) -> str:
    """The IML that sends one form value: required values as they are, optional ones only
    when filled in (``undefined`` drops the key; the connector rejects empty text), key-value
    lists as an object."""
    value = f"parameters.{field.key}"
    if field.kind == "dict":
        return f"{{{{if(length({value}), toCollection({value}, 'key', 'value'), undefined)}}}}"
    if field.kind == "array":
        return f"{{{{if(length({value}), {value}, undefined)}}}}"
    if field.required:
        return f"{{{{{value}}}}}"
    return f"{{{{ifempty({value}, undefined)}}}}"


def interface(source: ConnectorSource, located: Located, depth: int = 0) -> list[Param]:
    """The output fields of an object schema, nested objects and lists included; never an
    ``x-visibility: hidden`` one (a credential such as a web call's access token)."""
    return [
        _output(source, key, prop, depth)
        for key, prop in merged_properties(source, located).items()
        if not _hidden(source, prop)
    ]


def _hidden(source: ConnectorSource, located: Located) -> bool:
    _, own = located
    _, node = resolve(source, located)
    return "hidden" in (own.get("x-visibility"), node.get("x-visibility"))


def _output(source: ConnectorSource, key: str, located: Located, depth: int) -> Param:
    _, own = located
    file, node = resolve(source, located)
    label = own.get("title") or node.get("title") or key.replace("_", " ").capitalize()
    param: Param = {"name": key, "label": str(label)}
    param.update(_output_type(source, (file, node), depth))
    help_text = own.get("description") or node.get("description")
    if help_text:
        param["help"] = str(help_text)
    return param


def _output_type(source: ConnectorSource, located: Located, depth: int) -> Param:
    file, node = located
    kinds = types_of(node)
    if depth < _MAX_DEPTH and (kinds == ["object"] or (not kinds and "properties" in node)):
        spec = interface(source, located, depth + 1)
        return {"type": "collection", "spec": spec} if spec else {"type": "collection"}
    if depth < _MAX_DEPTH and kinds == ["array"]:
        item_file, item = resolve(source, (file, node.get("items") or {}))
        inner = _output_type(source, (item_file, item), depth + 1)
        return {"type": "array", "spec": inner}
    return {"type": _value_type(located, source)}
