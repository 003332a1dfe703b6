"""Sign in with a platform token, sign out.

The token is compared in constant time with every configured token and never written into
a page, a cookie or a log: the session keeps only the owner (the token's hash).
"""

from __future__ import annotations

from flask import redirect, request, url_for
from werkzeug.wrappers import Response

from connector.console.session import ConsoleSession
from connector.console.web import bp, notice_redirect, render, set_session
from connector.services import services
from connector.tenancy import match_token


@bp.get("/sign-in")
def sign_in() -> tuple[str, int]:
    return render("sign_in.html")


@bp.post("/sign-in")
def sign_in_post() -> Response | tuple[str, int]:
    token = (request.form.get("token") or "").strip()
    owner = match_token(services().settings.token_list(), token) if token else None
    if owner is None:
        error = (
            "Enter the connection token."
            if not token
            else "That is not one of this connector's connection tokens."
        )
        return render("sign_in.html", 401, error=error)
    set_session(ConsoleSession.signed_in(owner))
    return redirect(url_for("console.overview"), code=303)


@bp.post("/sign-out")
def sign_out() -> Response:
    set_session(ConsoleSession.anonymous())
    return notice_redirect("console.sign_in", "signed_out")
