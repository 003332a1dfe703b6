"""Subscriptions: where events go and how that is going; test, turn off and on, delete,
replay every dead letter at once."""

from __future__ import annotations

from flask import abort
from werkzeug.wrappers import Response

from connector.console.web import bp, console, notice_redirect, owner, render
from connector.samples import sample_call
from connector.services import services


@bp.get("/subscriptions")
def subscriptions() -> tuple[str, int]:
    admin = console().admin
    rows = [(sub, admin.health(sub.id)) for sub in services().subscriptions.of_owner(owner())]
    return render("subscriptions.html", rows=rows)


@bp.post("/subscriptions/<subscription_id>/test")
def send_test(subscription_id: str) -> Response:
    if console().admin.send_test(owner(), subscription_id, sample_call("call_ended")) is None:
        abort(404)
    services().wake_delivery()
    return notice_redirect("console.subscriptions", "test_sent")


@bp.post("/subscriptions/<subscription_id>/disable")
def disable(subscription_id: str) -> Response:
    if not console().admin.set_enabled(owner(), subscription_id, False):
        abort(404)
    return notice_redirect("console.subscriptions", "disabled")


@bp.post("/subscriptions/<subscription_id>/enable")
def enable(subscription_id: str) -> Response:
    if not console().admin.set_enabled(owner(), subscription_id, True):
        abort(404)
    return notice_redirect("console.subscriptions", "enabled")


@bp.post("/subscriptions/<subscription_id>/delete")
def delete(subscription_id: str) -> Response:
    if not services().subscriptions.delete(owner(), subscription_id):
        abort(404)
    return notice_redirect("console.subscriptions", "deleted")


@bp.post("/subscriptions/<subscription_id>/replay-dead")
def replay_dead(subscription_id: str) -> Response:
    queued = console().admin.replay_dead(owner(), subscription_id)
    if queued is None:
        abort(404)
    if queued:
        services().wake_delivery()
    notice = "replayed_all" if queued else "nothing_dead"
    return notice_redirect(
        "console.deliveries", notice, subscription=subscription_id, state="pending"
    )
