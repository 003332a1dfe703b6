"""The tools, generated from the manifest: one per action, plus a table of extras.

Every action in the manifest becomes a tool; ``ACTION_TOOLS`` only renames (an action not in
it keeps its key as the tool name), so an action added to the manifest is a tool at once.
``OPTION_TOOLS`` and ``TRIGGER_TOOLS`` pick the dropdown lists and polling triggers worth a
tool of their own. A tool's input schema is its action's schema from ``schemas/`` with refs
inlined (``schemas.inline_refs``), never a copy; extras get a schema built from the manifest's
own words (an option's parameters, a trigger's filters and events).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from connector.manifest import SCHEMA_BASE_URI
from connector.mcp.schemas import inline_refs

__all__ = [
    "ACTION_TOOLS",
    "OPTION_TOOLS",
    "RECENT_EVENTS_LIMIT",
    "TRIGGER_TOOLS",
    "Catalog",
    "ToolSpec",
    "build_catalog",
]

# manifest action key -> tool name, where they differ
ACTION_TOOLS: dict[str, str] = {"get_queued_call": "find_queued_call"}
# manifest option key -> tool name (options not listed are only dropdowns)
OPTION_TOOLS: dict[str, str] = {"phone_numbers": "list_phone_numbers", "agents": "list_agents"}
# manifest trigger key -> tool name of its polling endpoint
TRIGGER_TOOLS: dict[str, str] = {"call_events": "recent_call_events"}

RECENT_EVENTS_LIMIT = {"default": 10, "maximum": 100}  # the poll endpoint's own cap is 100
_PATH_NAME = re.compile(r"\{([^{}/]+)\}")

SchemaLoader = Callable[[str], dict[str, Any]]
"""A schema document by file name ("call.json"): the local files, or a remote connector's."""


@dataclass(frozen=True)
class ToolSpec:
    """One tool and the connector request that carries it out."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    method: str
    path: str  # may hold {name} parts, filled from the arguments of that name
    output: str  # the schema file of the answer ("call.json"): it picks the text summary
    listing: bool = False  # the answer is a JSON array, given as {"items": [...]}
    idempotency_header: str | None = None
    idempotency_field: str | None = None
    hints: dict[str, bool] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # sent when the caller gives none

    @property
    def path_names(self) -> list[str]:
        return _PATH_NAME.findall(self.path)


@dataclass(frozen=True)
class Catalog:
    """The tools of one connector, in manifest order."""

    tools: tuple[ToolSpec, ...]

    def get(self, name: str) -> ToolSpec | None:
        return next((tool for tool in self.tools if tool.name == name), None)

    @property
    def names(self) -> list[str]:
        return [tool.name for tool in self.tools]


def schema_registry(load: SchemaLoader) -> Registry[Any]:
    """A registry that fetches each schema through ``load`` the first time a ref needs it."""

    def retrieve(uri: str) -> Resource[Any]:
        if not uri.startswith(SCHEMA_BASE_URI):
            raise LookupError(f"not one of the connector's schemas: {uri}")
        return DRAFT202012.create_resource(load(uri.removeprefix(SCHEMA_BASE_URI)))

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def build_catalog(manifest: dict[str, Any], load: SchemaLoader) -> Catalog:
    """Every tool the manifest describes, with input schemas loaded through ``load``."""
    registry = schema_registry(load)
    tools = [
        *_action_tools(manifest, load, registry),
        *_option_tools(manifest),
        *_trigger_tools(manifest),
    ]
    names = [tool.name for tool in tools]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"two tools would be called {', '.join(twice)}")
    return Catalog(tuple(tools))


def _file(ref: str) -> str:
    return ref.removeprefix("schemas/")


def _action_tools(
    manifest: dict[str, Any], load: SchemaLoader, registry: Registry[Any]
) -> Iterator[ToolSpec]:
    for action in manifest["actions"]:
        idempotency = action.get("idempotency") or {}
        description = action["description"]
        if idempotency:
            description += (
                f" Give {idempotency['field']} a value of your own for this call (such as the "
                "record's ID and the date) and send the same value if you try again; without "
                "one, the connector derives it from this request where the connection allows."
            )
        yield ToolSpec(
            name=ACTION_TOOLS.get(action["key"], action["key"]),
            title=action["label"],
            description=description,
            input_schema=inline_refs(load(_file(action["input"])), registry),
            method=action["method"],
            path=action["path"],
            output=_file(action["output"]),
            idempotency_header=idempotency.get("header"),
            idempotency_field=idempotency.get("field"),
            hints=dict(action.get("hints", {})),
        )


def _option_tools(manifest: dict[str, Any]) -> Iterator[ToolSpec]:
    for option in manifest["options"]:
        name = OPTION_TOOLS.get(option["key"])
        if name is None:
            continue
        parameters = option.get("parameters", [])
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                p["name"]: {"type": "string", "description": p.get("description", "")}
                for p in parameters
            },
            "required": [p["name"] for p in parameters],
            "additionalProperties": False,
        }
        yield ToolSpec(
            name=name,
            title=option["label"],
            description=(
                f"{option.get('description', option['label'])} Each item has the value to "
                "use in a call (value) and how the user knows it (label)."
            ),
            input_schema=schema,
            method=option["method"],
            path=option["path"],
            output=_file(option["output"]),
            listing=True,
            hints={"read_only": True, "destructive": False, "idempotent": True},
        )


def _trigger_tools(manifest: dict[str, Any]) -> Iterator[ToolSpec]:
    for trigger in manifest["triggers"]:
        name, poll = TRIGGER_TOOLS.get(trigger["key"]), trigger.get("poll")
        if name is None or poll is None:
            continue
        # connector events that polling does not list (poll: false) come by webhook only
        events = [e for e in trigger["events"] if e.get("poll", True)]
        defaults = [e["value"] for e in events if e.get("default")]
        properties: dict[str, Any] = {}
        for spec in trigger.get("filters", []):
            prop: dict[str, Any] = {"title": spec["label"], "description": spec["description"]}
            if spec["type"] == "array":
                prop.update(type="array", items={"enum": [e["value"] for e in events]})
            else:
                prop["type"] = spec["type"]
            properties[spec["key"]] = prop
        properties["limit"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": RECENT_EVENTS_LIMIT["maximum"],
            "title": "How many",
            "description": (
                f"How many events to return, newest first: 1 to {RECENT_EVENTS_LIMIT['maximum']}"
                f" (default {RECENT_EVENTS_LIMIT['default']})."
            ),
        }
        kinds = "; ".join(f"{e['value']}: {e.get('description', e['label'])}" for e in events)
        yield ToolSpec(
            name=name,
            title=f"Recent {trigger['noun']}s",
            description=(
                f"The most recent {trigger['noun'].lower()}s, newest first, as the "
                f"'{trigger['label']}' trigger delivers them: each with the full call and flat "
                f"fields. Without events, {' and '.join(defaults)}. Events: {kinds}"
            ),
            input_schema={
                "type": "object",
                "properties": properties,
                "required": [s["key"] for s in trigger.get("filters", []) if s.get("required")],
                "additionalProperties": False,
            },
            method=poll["method"],
            path=poll["path"],
            output=_file(poll.get("output", trigger["output"])),
            listing=True,
            hints={"read_only": True, "destructive": False, "idempotent": True},
            defaults={"limit": RECENT_EVENTS_LIMIT["default"]},
        )
