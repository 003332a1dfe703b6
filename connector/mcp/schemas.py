"""Input schemas for MCP clients: the manifest's schema with every ``$ref`` inlined.

MCP clients read a tool's ``inputSchema`` alone, without our other schema files, so a ref to
another file (``create-phone-call.input.json#/properties/to_number``) is replaced by what it
points at. Nothing else changes: a schema without refs is returned as the manifest has it.
"""

from __future__ import annotations

import copy
from typing import Any

from referencing import Registry
from referencing._core import Resolver

__all__ = ["inline_refs"]

_DOCUMENT_KEYWORDS = ("$id", "$schema")  # only meaningful at a document's root


def inline_refs(schema: dict[str, Any], registry: Registry[Any]) -> dict[str, Any]:
    """``schema`` with each ``$ref`` replaced by its target, resolved through ``registry``.

    A ref with sibling keywords keeps them: the target joins them under ``allOf``, which
    means the same in JSON Schema 2020-12. A recursive ref cannot be inlined: ValueError.
    """
    resolver = registry.resolver(base_uri=str(schema.get("$id", "")))
    inlined = _inline(copy.deepcopy(schema), resolver, ())
    if not isinstance(inlined, dict):  # pragma: no cover - a dict stays a dict
        raise TypeError("a schema is an object")
    return inlined


def _inline(node: Any, resolver: Resolver[Any], path: tuple[int, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, resolver, path) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    rest = {key: _inline(value, resolver, path) for key, value in node.items() if key != "$ref"}
    if not isinstance(ref, str):
        return rest
    resolved = resolver.lookup(ref)
    if id(resolved.contents) in path:
        raise ValueError(f"$ref {ref!r} is recursive and cannot be inlined")
    target = _inline(resolved.contents, resolved.resolver, (*path, id(resolved.contents)))
    if isinstance(target, dict):
        target = {k: v for k, v in target.items() if k not in _DOCUMENT_KEYWORDS}
    if not rest:
        return target
    return {**rest, "allOf": [*rest.get("allOf", []), target]}
