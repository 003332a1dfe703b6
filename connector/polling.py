"""The polling trigger: recent calls from Retell as call events, for platforms without hooks.

``/v3/list-calls`` omits transcripts, so every listed call is fetched in full with
get-call (a few at a time). Each call yields one item per requested event it has reached,
with the same stable ``id`` the webhook path would give it, so a platform that switches
between polling and REST hooks does not see the same event twice. Only events visible on
the call object can be polled: ``call_started``, ``call_ended`` and ``call_analyzed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connector.events import build_event
from connector.retell.client import RetellClient

__all__ = ["POLLABLE_EVENTS", "poll_call_events"]

POLLABLE_EVENTS = ("call_started", "call_ended", "call_analyzed")
_FINISHED = ("ended", "error", "not_connected")
_FETCH_CONCURRENCY = 8


def _reached(call: dict[str, Any], event: str) -> bool:
    status = call.get("call_status")
    if event == "call_started":
        return status in ("ongoing", "ended") and call.get("start_timestamp") is not None
    if event == "call_ended":
        return status in _FINISHED
    if event == "call_analyzed":
        return isinstance(call.get("call_analysis"), dict)
    return False


def _as_sent(call: dict[str, Any], event: str) -> dict[str, Any]:
    """The call as Retell's webhook for ``event`` carries it (call_ended has no analysis)."""
    if event in ("call_started", "call_ended"):
        return {k: v for k, v in call.items() if k != "call_analysis"}
    return call


def _moment_ms(call: dict[str, Any], event: str) -> int:
    stamp = call.get("start_timestamp") if event == "call_started" else call.get("end_timestamp")
    return int(stamp or call.get("start_timestamp") or 0)


def poll_call_events(
    retell: RetellClient, *, events: Sequence[str], agent_id: str | None, limit: int
) -> list[dict[str, Any]]:
    wanted = [e for e in events if e in POLLABLE_EVENTS]
    if not wanted:
        return []
    statuses = list(_FINISHED) + (["ongoing"] if "call_started" in wanted else [])
    criteria: dict[str, Any] = {"call_status": {"type": "enum", "op": "in", "value": statuses}}
    if agent_id:
        criteria["agent"] = [{"agent_id": agent_id}]
    page = retell.list_calls(
        {"filter_criteria": criteria, "sort_order": "descending", "limit": limit}
    )
    ids = [
        str(c["call_id"])
        for c in page.get("items") or []
        if isinstance(c, dict) and c.get("call_id")
    ]
    with ThreadPoolExecutor(max_workers=_FETCH_CONCURRENCY) as pool:
        calls = list(pool.map(retell.get_call, ids))
    dated = [
        (_moment_ms(call, event), POLLABLE_EVENTS.index(event), call, event)
        for call in calls
        for event in wanted
        if _reached(call, event)
    ]
    dated.sort(key=lambda entry: entry[:2], reverse=True)  # newest first; analyzed before ended
    return [
        build_event(event, _as_sent(call, event), received_at_ms=moment)
        for moment, _rank, call, event in dated[:limit]
    ]
