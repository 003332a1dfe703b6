"""Deliveries: the log filtered by state, event, subscription and time, page by page; one
delivery with every attempt; replay."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, request
from werkzeug.wrappers import Response

from connector.campaigns.notices import EXPIRED, FAILED
from connector.console.web import bp, console, notice_redirect, owner, render
from connector.events import SUBSCRIBABLE_EVENTS
from connector.services import services
from connector.store.delivery_pages import DeliveryFilter

STATES = ("pending", "delivering", "succeeded", "dead", "cancelled")
EVENTS = (*SUBSCRIBABLE_EVENTS, FAILED, EXPIRED)
PAGE_SIZE = 50


def _time(name: str, errors: dict[str, str]) -> float | None:
    """A ``datetime-local`` field, read as UTC."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = "Enter a date and time like 2026-11-29T14:30."
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _choice(name: str, allowed: tuple[str, ...], errors: dict[str, str]) -> str | None:
    raw = (request.args.get(name) or "").strip()
    if raw and raw not in allowed:
        errors[name] = "Choose one of the listed values."
        return None
    return raw or None


@bp.get("/deliveries")
def deliveries() -> tuple[str, int]:
    errors: dict[str, str] = {}
    subs = services().subscriptions.of_owner(owner())
    where = DeliveryFilter(
        state=_choice("state", STATES, errors),
        event=_choice("event", EVENTS, errors),
        subscription_id=_choice("subscription", tuple(s.id for s in subs), errors),
        since=_time("since", errors),
        until=_time("until", errors),
    )
    cursor = request.args.get("cursor") or None
    page = None
    if not errors:
        try:
            page = console().pages.page(owner(), where, cursor=cursor, limit=PAGE_SIZE)
        except ValueError:
            errors["cursor"] = "This page link is broken; start again from the first page."
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k not in ("cursor", "notice")}
    return render(
        "deliveries.html",
        400 if errors else 200,
        page=page,
        errors=errors,
        subscriptions=subs,
        states=STATES,
        events=EVENTS,
        args=args,
        first_page=cursor is None,
    )


@bp.get("/deliveries/<delivery_id>")
def delivery(delivery_id: str) -> tuple[str, int]:
    found = console().pages.one(owner(), delivery_id)
    if found is None:
        abort(404)
    return render("delivery.html", d=found)


@bp.post("/deliveries/<delivery_id>/replay")
def replay(delivery_id: str) -> Response | tuple[str, int]:
    outcome = services().queue.replay(owner(), delivery_id)
    if outcome == "not_found":
        abort(404)
    if outcome in ("busy", "unsubscribed"):
        message = (
            "This delivery is still queued or being sent; wait for it to finish."
            if outcome == "busy"
            else "Its subscription was deleted, so there is nowhere to send it."
        )
        found = console().pages.one(owner(), delivery_id)
        return render("delivery.html", 409, d=found, error=message)
    services().wake_delivery()
    return notice_redirect("console.delivery", "replayed", delivery_id=delivery_id)
