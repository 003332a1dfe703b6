"""The blueprint and what every console request goes through: the session, sign-in, CSRF
on every POST, security headers, and HTML error pages.

Content-Security-Policy allows nothing but this origin's stylesheet and images: no script
of any kind, no inline style, no framing (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``). Pages are never cached and send no referrer to other sites.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, redirect, request, url_for
from flask import render_template as _render
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from connector.console.session import COOKIE, MAX_AGE, ConsoleSession, SessionCodec
from connector.services import services
from connector.store.delivery_pages import DeliveryPages
from connector.store.delivery_stats import DeliveryStats
from connector.store.secrets import SecretStore
from connector.store.subscription_admin import SubscriptionAdmin
from connector.tenancy import owner_of

__all__ = ["Console", "bp", "console", "install", "notice_redirect", "owner", "render"]

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

OPEN_ENDPOINTS = frozenset({"console.sign_in", "console.sign_in_post", "console.static"})
SECRET_NAME = "console_session_key"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

NOTICES = {
    "signed_out": "You are signed out.",
    "test_sent": "A test event is on its way; it appears under Deliveries.",
    "disabled": "The subscription is off: new events are not sent to it.",
    "enabled": "The subscription is on again.",
    "deleted": "The subscription is deleted; its queued deliveries are cancelled.",
    "replayed": "The delivery is queued again; a new attempt appears below shortly.",
    "replayed_all": "Every dead letter of the subscription is queued again.",
    "nothing_dead": "The subscription has no dead letters to replay.",
    "paused": "The campaign is paused: no new calls are dialled.",
    "resumed": "The campaign is running again.",
    "cancelled": "The queued call is cancelled.",
}


@dataclass
class Console:
    """The console's per-process parts, in ``app.extensions["console"]``."""

    pages: DeliveryPages
    stats: DeliveryStats
    admin: SubscriptionAdmin
    secrets: SecretStore
    _codec: SessionCodec | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def codec(self) -> SessionCodec:
        """The cookie signer, its key read (or made) once per process on first use."""
        if self._codec is None:
            with self._lock:
                if self._codec is None:
                    configured = services().settings.connector_console_secret
                    key = (
                        configured.get_secret_value()
                        if configured is not None
                        else self.secrets.get_or_create(SECRET_NAME)
                    )
                    self._codec = SessionCodec(key)
        return self._codec


def install(app: Flask) -> None:
    engine = app.extensions["connector"].engine
    app.extensions["console"] = Console(
        pages=DeliveryPages(engine),
        stats=DeliveryStats(engine),
        admin=SubscriptionAdmin(engine),
        secrets=SecretStore(engine),
    )


def console() -> Console:
    found: Console = current_app.extensions["console"]
    return found


def owner() -> str:
    """The signed-in owner (the views run only after ``_load_session`` let them)."""
    session: ConsoleSession = g.console_session
    assert session.owner is not None
    return session.owner


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    notice = NOTICES.get(request.args.get("notice", ""))
    return _render(f"console/{template}", notice=notice, **context), status


def notice_redirect(endpoint: str, notice: str, **values: Any) -> Response:
    """After a change, show the page again with a fixed message (nothing the user typed)."""
    return redirect(url_for(endpoint, notice=notice, **values), code=303)


def set_session(session: ConsoleSession) -> None:
    g.console_session = session
    g.console_session_changed = True


def _valid_owners() -> set[str]:
    return {owner_of(token) for token in services().settings.token_list()}


@bp.before_request
def _load_session() -> Response | tuple[str, int] | None:
    found = console().codec().loads(request.cookies.get(COOKIE))
    if found is not None and found.owner is not None and found.owner not in _valid_owners():
        found = None  # the token was removed from the configuration: signed out
    g.console_session = found or ConsoleSession.anonymous()
    g.console_session_changed = found is None
    if request.endpoint == "console.static":
        return None
    if request.method == "POST" and not g.console_session.csrf_matches(
        request.form.get("csrf_token")
    ):
        return render(
            "error.html",
            400,
            title="This form has expired",
            message=("Nothing was changed. Reload the page and try again."),
        )
    if request.endpoint not in OPEN_ENDPOINTS and g.console_session.owner is None:
        return redirect(url_for("console.sign_in"), code=303)
    return None


@bp.after_request
def _finish(response: Response) -> Response:
    if g.get("console_session_changed"):
        response.set_cookie(
            COOKIE,
            console().codec().dumps(g.console_session),
            max_age=MAX_AGE,
            path="/console",
            httponly=True,
            samesite="Lax",
            secure=_https(),
        )
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _https() -> bool:
    public = services().settings.connector_public_url or ""
    return request.is_secure or public.startswith("https://")


@bp.app_template_global()
def csrf_token() -> str:
    session: ConsoleSession | None = g.get("console_session")
    return "" if session is None else session.csrf


@bp.app_template_global()
def signed_in() -> bool:
    session: ConsoleSession | None = g.get("console_session")
    return session is not None and session.owner is not None


@bp.route("/<path:_anything>", methods=["GET", "POST"])
def unknown(_anything: str) -> Response:
    """Any other console address: the console's own 404 page, with its headers."""
    abort(404)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    titles = {404: "Not found", 405: "Not allowed here"}
    message = (
        "There is nothing here, or it belongs to another connection token."
        if code == 404
        else (exc.description or "")
    )
    return render("error.html", code, title=titles.get(code, exc.name), message=message)
