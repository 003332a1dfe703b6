"""``filter_criteria`` of ``POST /v3/list-calls``: typed ``{type, op, value}`` conditions, ANDed.

Supported: string (eq ne sw ew co), number (eq ne gt ge lt le), range (bt), boolean (eq),
enum (in), present (pr np) on the scalar keys below; keyed lists ``metadata``,
``dynamic_variables``, ``custom_analysis_data`` (``[{key, type, op, value}]``); and
``agent: [{agent_id, version?}]``. Any other key is a 400, so a client never believes a
filter applied when the sandbox ignored it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.sandbox.errors import ApiError

__all__ = ["check_condition", "compile_filters", "match"]

Call = dict[str, Any]

_SCALAR: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id",),
    "call_status": ("call_status",),
    "call_type": ("call_type",),
    "direction": ("direction",),
    "from_number": ("from_number",),
    "to_number": ("to_number",),
    "disconnection_reason": ("disconnection_reason",),
    "data_storage_setting": ("data_storage_setting",),
    "agent_tag": ("agent_tag",),
    "batch_call_id": ("batch_call_id",),
    "start_timestamp": ("start_timestamp",),
    "end_timestamp": ("end_timestamp",),
    "duration_ms": ("duration_ms",),
    "combined_cost": ("call_cost", "combined_cost"),
    "e2e_latency_p50": ("latency", "e2e", "p50"),
    "user_sentiment": ("call_analysis", "user_sentiment"),
    "call_successful": ("call_analysis", "call_successful"),
    "in_voicemail": ("call_analysis", "in_voicemail"),
}
_KEYED: dict[str, tuple[str, ...]] = {
    "metadata": ("metadata",),
    "dynamic_variables": ("retell_llm_dynamic_variables",),
    "custom_analysis_data": ("call_analysis", "custom_analysis_data"),
    "custom_attributes": ("custom_attributes",),
}
_OPS = {
    "string": {"eq", "ne", "sw", "ew", "co"},
    "number": {"eq", "ne", "gt", "ge", "lt", "le"},
    "range": {"bt"},
    "boolean": {"eq"},
    "enum": {"in"},
    "present": {"pr", "np"},
}
_MISSING = object()


def _get(call: Call, path: tuple[str, ...]) -> Any:
    value: Any = call
    for part in path:
        value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_condition(cond: Any, where: str) -> None:
    """400 unless ``cond`` is a well-formed ``{type, op, value}`` condition."""
    kind = cond.get("type") if isinstance(cond, dict) else None
    if kind not in _OPS or cond.get("op") not in _OPS[kind]:
        raise ApiError.bad_request(f"filter_criteria.{where} needs a valid type and op.")
    value = cond.get("value")
    ok = {
        "string": isinstance(value, str),
        "number": _number(value),
        "range": isinstance(value, list) and len(value) == 2 and all(map(_number, value)),
        "boolean": isinstance(value, bool),
        "enum": isinstance(value, list),
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


def _agent(entries: Any) -> Callable[[Call], bool]:
    """``agent: [{agent_id, version?}]``, ORed across entries."""
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("agent_id"), str) for e in entries
    ):
        raise ApiError.bad_request("filter_criteria.agent must be a list of {agent_id, version?}.")

    def test(call: Call) -> bool:
        return any(
            call.get("agent_id") == e["agent_id"]
            and (not e.get("version") or call.get("agent_version") in e["version"])
            for e in entries
        )

    return test


def _one(key: str, cond: Any) -> Callable[[Call], bool]:
    """The predicate for one filter_criteria key."""
    if key == "agent":
        return _agent(cond)
    if key in _SCALAR:
        check_condition(cond, key)
        return lambda call: match(cond, _get(call, _SCALAR[key]))
    if key in _KEYED:
        if not isinstance(cond, list) or not all(isinstance(c, dict) and "key" in c for c in cond):
            raise ApiError.bad_request(f"filter_criteria.{key} must be a list of {{key, ...}}.")
        for c in cond:
            check_condition(c, f"{key}.{c['key']}")
        return lambda call: all(match(c, _get(call, (*_KEYED[key], c["key"]))) for c in cond)
    raise ApiError.bad_request(f"filter_criteria.{key} is not supported by the Retell sandbox.")


def compile_filters(criteria: Any) -> Callable[[Call], bool]:
    """A predicate for ``criteria`` (all conditions ANDed); 400 when malformed."""
    if criteria is None:
        return lambda call: True
    if not isinstance(criteria, dict):
        raise ApiError.bad_request("filter_criteria must be an object.")
    tests = [_one(key, cond) for key, cond in criteria.items()]
    return lambda call: all(test(call) for test in tests)
