"""Campaigns: counts by state, dial rate and ETA; pause and resume; the calls still waiting,
each with a cancel button."""

from __future__ import annotations

from flask import abort, request
from werkzeug.wrappers import Response

from connector.campaigns.queue import CancelRefused
from connector.console.web import bp, notice_redirect, owner, render
from connector.services import services

PAGE_SIZE = 50


@bp.get("/campaigns")
def campaigns() -> tuple[str, int]:
    return render("campaigns.html", campaigns=services().campaigns.campaigns(owner()))


@bp.get("/campaigns/<name>")
def campaign(name: str) -> tuple[str, int]:
    found = services().campaigns.campaigns(owner(), name)
    if not found:
        abort(404)
    cursor = request.args.get("cursor") or None
    try:
        page = services().campaigns.page(
            owner(), campaign=name, state="queued", limit=PAGE_SIZE, cursor=cursor
        )
    except ValueError:
        abort(404)
    return render("campaign.html", c=found[0], page=page, first_page=cursor is None)


def _steer(name: str, paused: bool) -> Response:
    if not services().campaigns.campaigns(owner(), name):
        abort(404)  # pausing would create it: only campaigns that exist are steered here
    services().campaigns.pause(owner(), name, paused)
    return notice_redirect("console.campaign", "paused" if paused else "resumed", name=name)


@bp.post("/campaigns/<name>/pause")
def pause(name: str) -> Response:
    return _steer(name, True)


@bp.post("/campaigns/<name>/resume")
def resume(name: str) -> Response:
    return _steer(name, False)


@bp.post("/queue/<queued_id>/cancel")
def cancel(queued_id: str) -> Response | tuple[str, int]:
    try:
        found = services().campaigns.cancel(owner(), queued_id)
    except CancelRefused as exc:
        return render(
            "error.html",
            409,
            title="Too late to cancel",
            message=f"This call is already {exc.state}; only waiting calls can be cancelled.",
        )
    if found is None:
        abort(404)
    return notice_redirect("console.campaign", "cancelled", name=found["campaign"])
