"""Calls: recent calls as Retell lists them, and one call's transcript, summary, custom
analysis and recording. Numbers are masked in the list and shown in full on a call's page."""

from __future__ import annotations

from typing import Any

from flask import abort, request

from connector.console.web import bp, render
from connector.retell.errors import RetellError, RetellNotFound, RetellUnprocessable
from connector.services import services

PAGE_SIZE = 25


def _seconds(call: dict[str, Any]) -> float | None:
    start, end = call.get("start_timestamp"), call.get("end_timestamp")
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        return (end - start) / 1000
    return None


@bp.get("/calls")
def calls() -> tuple[str, int]:
    body: dict[str, Any] = {"limit": PAGE_SIZE, "sort_order": "descending"}
    if key := request.args.get("after"):
        body["pagination_key"] = key
    try:
        page = services().retell.list_calls(body)
    except RetellError as exc:
        return render("calls.html", 502, items=[], error=str(exc), next_key=None)
    items = [
        {**call, "seconds": _seconds(call)}
        for call in page.get("items") or []
        if isinstance(call, dict)
    ]
    next_key = page.get("pagination_key") if page.get("has_more") else None
    return render(
        "calls.html", items=items, next_key=next_key, first_page=not body.get("pagination_key")
    )


@bp.get("/calls/<call_id>")
def call(call_id: str) -> tuple[str, int]:
    try:
        found = services().retell.get_call(call_id)
    except (RetellNotFound, RetellUnprocessable):
        abort(404)
    except RetellError as exc:
        return render("call.html", 502, call=None, error=str(exc), call_id=call_id)
    analysis = found.get("call_analysis") if isinstance(found.get("call_analysis"), dict) else {}
    custom = analysis.get("custom_analysis_data") if isinstance(analysis, dict) else None
    turns = found.get("transcript_object")
    return render(
        "call.html",
        call=found,
        call_id=call_id,
        seconds=_seconds(found),
        analysis=analysis or {},
        custom=custom if isinstance(custom, dict) else {},
        turns=turns if isinstance(turns, list) else [],
    )
