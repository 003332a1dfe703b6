"""Signing in and out, the session cookie, CSRF and the security headers of console pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connector.app import create_app
from connector.console.session import COOKIE
from connector.services import Services
from tests.conftest import TOKEN, FakeRetell, make_settings
from tests.console.conftest import OTHER_TOKEN, csrf_of, sign_in, subscribe

PAGES = [
    "/console/",
    "/console/subscriptions",
    "/console/deliveries",
    "/console/calls",
    "/console/campaigns",
    "/console/setup",
]


def cookie_header(client: FlaskClient, path: str = "/console/sign-in") -> str:
    response = client.get(path)
    return response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("page", PAGES)
def test_pages_send_you_to_sign_in_first(console_app: Flask, page: str) -> None:
    """Every page redirects a visitor who has not signed in to the sign-in page."""
    response = console_app.test_client().get(page)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/console/sign-in")


def test_sign_in_with_a_platform_token_opens_the_overview(console_app: Flask) -> None:
    """The right token signs in and lands on the overview."""
    client = console_app.test_client()
    sign_in(client)
    page = client.get("/console/")
    assert page.status_code == 200
    assert "<h1>Overview</h1>" in page.text


@pytest.mark.parametrize(
    ("token", "message"),
    [("", "Enter the connection token."), ("x" * 30, "is not one of this connector")],
)
def test_a_wrong_token_is_refused_and_not_echoed(
    console_app: Flask, token: str, message: str
) -> None:
    """A wrong or empty token gets 401, a message, and never appears in the page."""
    client = console_app.test_client()
    csrf = csrf_of(client.get("/console/sign-in").text)
    response = client.post("/console/sign-in", data={"token": token, "csrf_token": csrf})
    assert response.status_code == 401
    assert message in response.text
    if token:
        assert token not in response.text
    assert client.get("/console/").status_code == 303


def test_the_token_never_reaches_a_page_or_the_cookie(console_app: Flask) -> None:
    """After sign-in, neither the pages nor the cookie carry the token."""
    client = console_app.test_client()
    form = client.get("/console/sign-in")
    response = client.post(
        "/console/sign-in", data={"token": TOKEN, "csrf_token": csrf_of(form.text)}
    )
    assert TOKEN not in response.headers.get("Set-Cookie", "")
    for page in PAGES:
        assert TOKEN not in client.get(page).text


def test_the_session_cookie_is_httponly_and_samesite_lax(console_app: Flask) -> None:
    """The cookie is HttpOnly, SameSite=Lax, scoped to /console, and not Secure over http."""
    header = cookie_header(console_app.test_client())
    assert header.startswith(f"{COOKIE}=")
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Path=/console" in header
    assert "Secure" not in header


def test_the_cookie_is_secure_behind_https(
    tmp_path: Path, retell: FakeRetell, engine: Engine
) -> None:
    """With an https public URL the cookie is marked Secure."""
    settings = make_settings(tmp_path, connector_public_url="https://connector.example.com")
    app = create_app(
        settings, engine=engine, retell_transport=retell.transport, configure_logs=False
    )
    assert "Secure" in cookie_header(app.test_client())


@pytest.mark.parametrize("secret", ["k" * 40, None], ids=["configured-secret", "generated-secret"])
def test_apps_on_one_database_accept_each_others_sessions(
    tmp_path: Path, retell: FakeRetell, engine: Engine, secret: str | None
) -> None:
    """Two processes accept each other's sessions: with the same CONNECTOR_CONSOLE_SECRET, or
    without it, through the key generated once and shared in the store."""
    settings = make_settings(tmp_path, connector_console_secret=secret)
    first, second = (
        create_app(settings, engine=engine, retell_transport=retell.transport, configure_logs=False)
        for _ in range(2)
    )
    client = first.test_client()
    sign_in(client)
    value = client.get_cookie(COOKIE, path="/console")
    assert value is not None
    other = second.test_client()
    other.set_cookie(COOKIE, value.value, path="/console")
    assert other.get("/console/").status_code == 200


def test_a_forged_cookie_is_not_a_session(console_app: Flask) -> None:
    """A cookie not signed with the console's key counts as signed out."""
    client = console_app.test_client()
    client.set_cookie(COOKIE, "eyJvIjoiYWJjIiwiYyI6IngifQ.forged.sig", path="/console")
    assert client.get("/console/").status_code == 303


def test_removing_a_token_signs_its_sessions_out(
    tmp_path: Path, retell: FakeRetell, engine: Engine
) -> None:
    """A session of a token no longer in CONNECTOR_API_TOKENS is refused."""
    secret = "s" * 40
    both = make_settings(
        tmp_path, connector_api_tokens=f"{TOKEN},{OTHER_TOKEN}", connector_console_secret=secret
    )
    app = create_app(both, engine=engine, retell_transport=retell.transport, configure_logs=False)
    client = app.test_client()
    sign_in(client, OTHER_TOKEN)
    value = client.get_cookie(COOKIE, path="/console")
    assert value is not None
    only_first = make_settings(tmp_path, connector_console_secret=secret)
    later = create_app(
        only_first, engine=engine, retell_transport=retell.transport, configure_logs=False
    )
    stale = later.test_client()
    stale.set_cookie(COOKIE, value.value, path="/console")
    assert stale.get("/console/").status_code == 303


def test_sign_out_ends_the_session(user: FlaskClient) -> None:
    """Sign out answers with the sign-in page's address and the pages close again."""
    response = user.post("/console/sign-out", data={"csrf_token": user.csrf})  # type: ignore[attr-defined]
    assert response.status_code == 303
    assert "/console/sign-in" in response.headers["Location"]
    assert user.get("/console/").status_code == 303


def test_sign_out_without_the_csrf_token_is_refused(user: FlaskClient) -> None:
    """A cross-site sign-out (no CSRF token) is refused and the session stays."""
    assert user.post("/console/sign-out").status_code == 400
    assert user.get("/console/").status_code == 200


def test_sign_in_without_the_csrf_token_is_refused(console_app: Flask) -> None:
    """Even the sign-in form needs its CSRF token (no login CSRF)."""
    client = console_app.test_client()
    client.get("/console/sign-in")
    response = client.post("/console/sign-in", data={"token": TOKEN})
    assert response.status_code == 400
    assert client.get("/console/").status_code == 303


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("disable", lambda sub: sub.status == "active"),
        ("delete", lambda sub: sub is not None),
    ],
)
def test_a_form_post_without_the_csrf_token_changes_nothing(
    user: FlaskClient, api: FlaskClient, svc: Services, action: str, check: object
) -> None:
    """A post with a missing or wrong CSRF token is refused with 400 and changes nothing."""
    sub = subscribe(api, "http://127.0.0.1:9/hook")
    for data in ({}, {"csrf_token": "not-the-token"}):
        response = user.post(f"/console/subscriptions/{sub['id']}/{action}", data=data)
        assert response.status_code == 400
        assert "Nothing was changed" in response.text
    with user.application.app_context():
        (found,) = [s for s in svc.subscriptions.of_owner(_owner()) if s.id == sub["id"]]
    assert callable(check) and check(found)


def _owner() -> str:
    from connector.tenancy import owner_of

    return owner_of(TOKEN)


@pytest.mark.parametrize("page", ["/console/sign-in", *PAGES, "/console/no-such-page"])
def test_console_pages_send_the_security_headers(user: FlaskClient, page: str) -> None:
    """CSP without scripts, no framing, a referrer policy, on every page (even a 404)."""
    response = user.get(page)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script of any kind, inline or not
    assert "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "<script" not in response.text
    assert " style=" not in response.text


def test_a_short_console_secret_stops_start_up_naming_it(tmp_path: Path) -> None:
    """CONNECTOR_CONSOLE_SECRET under 32 characters is refused with one line naming it."""
    from connector.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="CONNECTOR_CONSOLE_SECRET must be at least 32"):
        load_settings(
            _env_file=None,
            retell_api_key="k",
            connector_api_tokens=TOKEN,
            connector_console_secret="short",
        )


def test_the_console_secret_is_redacted_from_logs(tmp_path: Path) -> None:
    """A configured console secret is among the values the log redactor hides."""
    settings = make_settings(tmp_path, connector_console_secret="c" * 40)
    assert "c" * 40 in settings.secret_values()
