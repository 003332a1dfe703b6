"""``filter_criteria`` of ``POST /v3/list-calls``: typed ``{type, op, value}`` conditions, ANDed.

The keys, and the condition types each key takes, are exactly those the official SDKs
declare for v3 list-calls (``retell.types.call_list_params.FilterCriteria``; a test compares
the tables below with it): scalar keys, keyed lists (``metadata``, ``dynamic_variables``,
``custom_analysis_data``, ``custom_attributes``: ``[{key, type, op, value}]``),
``agent: [{agent_id, version?}]`` and ``tool_calls: [{name?, type?, success?, latency_ms?}]``.
Any other key, or a condition type a key does not take, is a 400, so a client never believes
a filter applied when the sandbox ignored it.

``tool_calls``: each entry names one tool call the call must have made (all of the entry's
fields hold for the same tool call); several entries must all be found. Tool calls are read
from ``transcript_with_tool_calls`` (name and type from the invocation, success from its
result); their latency is the sandbox's own figure, which Retell keeps but the call object
does not carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from connector.sandbox.conversations import TOOL_LATENCY_MS
from connector.sandbox.errors import ApiError

__all__ = [
    "AGENT_FIELDS",
    "KEYED",
    "OPS",
    "SCALAR",
    "TOOL_CALL_FIELDS",
    "check_condition",
    "compile_filters",
    "match",
]

Call = dict[str, Any]

_TEXT = frozenset({"string"})
_ENUM = frozenset({"enum"})
_FLAG = frozenset({"boolean"})
_NUMERIC = frozenset({"number", "range"})
_ANY = frozenset({"string", "number", "range", "boolean", "enum", "present"})

SCALAR: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    # key: (where the call object keeps the value, the condition types the key takes)
    "agent_tag": (("agent_tag",), _ENUM),
    "batch_call_id": (("batch_call_id",), _TEXT),
    "call_id": (("call_id",), _TEXT | _ENUM),
    "call_status": (("call_status",), _ENUM),
    "call_successful": (("call_analysis", "call_successful"), _FLAG),
    "call_type": (("call_type",), _ENUM),
    "combined_cost": (("call_cost", "combined_cost"), _NUMERIC),
    "data_storage_setting": (("data_storage_setting",), _ENUM),
    "direction": (("direction",), _ENUM),
    "disconnection_reason": (("disconnection_reason",), _ENUM),
    "duration_ms": (("duration_ms",), _NUMERIC),
    "e2e_latency_p50": (("latency", "e2e", "p50"), _NUMERIC),
    "end_timestamp": (("end_timestamp",), _NUMERIC),
    "from_number": (("from_number",), _TEXT),
    "in_voicemail": (("call_analysis", "in_voicemail"), _FLAG),
    "start_timestamp": (("start_timestamp",), _NUMERIC),
    "to_number": (("to_number",), _TEXT),
    "user_sentiment": (("call_analysis", "user_sentiment"), _ENUM),
}
KEYED: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "metadata": (("metadata",), _ANY),
    "dynamic_variables": (("retell_llm_dynamic_variables",), _ANY),
    "custom_analysis_data": (("call_analysis", "custom_analysis_data"), _ANY),
    "custom_attributes": (("custom_attributes",), _ANY),
}
OPS: dict[str, frozenset[str]] = {
    "string": frozenset({"eq", "ne", "sw", "ew", "co"}),
    "number": frozenset({"eq", "ne", "gt", "ge", "lt", "le"}),
    "range": frozenset({"bt"}),
    "boolean": frozenset({"eq"}),
    "enum": frozenset({"in"}),
    "present": frozenset({"pr", "np"}),
}
AGENT_FIELDS = frozenset({"agent_id", "version"})
TOOL_CALL_FIELDS: dict[str, frozenset[str] | None] = {
    # field: the condition types it takes, or None for a plain string compared for equality
    "name": None,
    "type": None,
    "success": _FLAG,
    "latency_ms": _NUMERIC,
}
_MISSING = object()


def _get(call: Call, path: tuple[str, ...]) -> Any:
    value: Any = call
    for part in path:
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_condition(cond: Any, where: str, kinds: frozenset[str] = _ANY) -> None:
    """400 unless ``cond`` is a well-formed ``{type, op, value}`` of one of ``kinds``."""
    kind = cond.get("type") if isinstance(cond, dict) else None
    if kind not in kinds or cond.get("op") not in OPS[kind]:
        allowed = ", ".join(sorted(kinds))
        raise ApiError.bad_request(f"filter_criteria.{where} needs a valid op of type {allowed}.")
    value = cond.get("value")
    ok = {
        "string": isinstance(value, str),
        "number": _number(value),
        "range": isinstance(value, list) and len(value) == 2 and all(map(_number, value)),
        "boolean": isinstance(value, bool),
        "enum": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "present": True,
    }[kind]
    if not ok:
        raise ApiError.bad_request(f"filter_criteria.{where} has a value of the wrong type.")


def match(cond: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` (``_MISSING`` when absent) satisfies one checked condition."""
    kind, op, want = str(cond["type"]), str(cond["op"]), cond.get("value")
    if kind == "present":
        return (value is not _MISSING and value is not None) == (op == "pr")
    if kind == "string":
        if not isinstance(value, str):
            return op == "ne"
        text = str(want)
        return {
            "eq": value == text,
            "ne": value != text,
            "sw": value.startswith(text),
            "ew": value.endswith(text),
            "co": text in value,
        }[op]
    if kind == "enum":
        return value in list(want or [])
    if kind == "boolean":
        return value is want
    if not _number(value):
        return False
    if kind == "range":
        low, high = want if isinstance(want, list) else (0, -1)
        return bool(low <= value <= high)
    tests = {
        "eq": value == want,
        "ne": value != want,
        "gt": value > want,
        "ge": value >= want,
        "lt": value < want,
        "le": value <= want,
    }
    return bool(tests[op])


def _entries(key: str, entries: Any, fields: frozenset[str] | dict[str, Any]) -> list[Call]:
    """A list of objects using only ``fields``; 400 otherwise."""
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and set(e) <= set(fields) for e in entries
    ):
        names = ", ".join(sorted(fields))
        raise ApiError.bad_request(f"filter_criteria.{key} must be a list of {{{names}}}.")
    return entries


def _agent(entries: Any) -> Callable[[Call], bool]:
    """``agent: [{agent_id, version?}]``, ORed across entries."""
    checked = _entries("agent", entries, AGENT_FIELDS)
    for entry in checked:
        versions = entry.get("version", [])
        if not isinstance(entry.get("agent_id"), str) or not (
            isinstance(versions, list) and all(map(_number, versions))
        ):
            raise ApiError.bad_request(
                "filter_criteria.agent needs an agent_id and, optionally, a list of versions."
            )

    def test(call: Call) -> bool:
        return any(
            call.get("agent_id") == e["agent_id"]
            and (not e.get("version") or call.get("agent_version") in e["version"])
            for e in checked
        )

    return test


def _tool_calls_of(call: Call) -> Iterator[dict[str, Any]]:
    """``{name, type, success, latency_ms}`` for each tool call the transcript records."""
    woven = call.get("transcript_with_tool_calls") or []
    results = {
        item.get("tool_call_id"): item for item in woven if item.get("role") == "tool_call_result"
    }
    for item in woven:
        if item.get("role") == "tool_call_invocation":
            result = results.get(item.get("tool_call_id"), {})
            yield {
                "name": item.get("name", _MISSING),
                "type": item.get("type", _MISSING),
                "success": result.get("successful", _MISSING),
                "latency_ms": TOOL_LATENCY_MS if result else _MISSING,
            }


def _tool_calls(entries: Any) -> Callable[[Call], bool]:
    """``tool_calls: [{name?, type?, success?, latency_ms?}]``: every entry must be found."""
    checked = _entries("tool_calls", entries, TOOL_CALL_FIELDS)
    for entry in checked:
        for field, kinds in TOOL_CALL_FIELDS.items():
            if field not in entry:
                continue
            if kinds is None and not isinstance(entry[field], str):
                raise ApiError.bad_request(f"filter_criteria.tool_calls.{field} must be text.")
            if kinds is not None:
                check_condition(entry[field], f"tool_calls.{field}", kinds)

    def found(entry: dict[str, Any], tool: dict[str, Any]) -> bool:
        return all(
            tool[field] == want if TOOL_CALL_FIELDS[field] is None else match(want, tool[field])
            for field, want in entry.items()
        )

    return lambda call: all(
        any(found(entry, tool) for tool in _tool_calls_of(call)) for entry in checked
    )


def _one(key: str, cond: Any) -> Callable[[Call], bool]:
    """The predicate for one filter_criteria key."""
    if key == "agent":
        return _agent(cond)
    if key == "tool_calls":
        return _tool_calls(cond)
    if key in SCALAR:
        path, kinds = SCALAR[key]
        check_condition(cond, key, kinds)
        return lambda call: match(cond, _get(call, path))
    if key in KEYED:
        path, kinds = KEYED[key]
        if not isinstance(cond, list) or not all(isinstance(c, dict) and "key" in c for c in cond):
            raise ApiError.bad_request(f"filter_criteria.{key} must be a list of {{key, ...}}.")
        for c in cond:
            check_condition(c, f"{key}.{c['key']}", kinds)
        return lambda call: all(match(c, _get(call, (*path, c["key"]))) for c in cond)
    raise ApiError.bad_request(f"filter_criteria.{key} is not supported by the Retell sandbox.")


def compile_filters(criteria: Any) -> Callable[[Call], bool]:
    """A predicate for ``criteria`` (all conditions ANDed); 400 when malformed."""
    if criteria is None:
        return lambda call: True
    if not isinstance(criteria, dict):
        raise ApiError.bad_request("filter_criteria must be an object.")
    tests = [_one(key, cond) for key, cond in criteria.items()]
    return lambda call: all(test(call) for test in tests)
