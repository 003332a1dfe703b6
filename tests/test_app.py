"""The app shell: settings, auth, problem+json for every error, health, metrics, /v1/me."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient

from connector.app import create_app
from connector.settings import SettingsError, load_settings
from tests.conftest import AUTH, TOKEN, FakeRetell, make_settings

PROTECTED = [
    ("GET", "/v1/me"),
    ("POST", "/v1/actions/create-phone-call"),
    ("GET", "/v1/actions/get-call?call_id=abc"),
    ("GET", "/v1/options/phone-numbers"),
    ("GET", "/v1/options/agents"),
    ("GET", "/v1/options/agent-versions?agent_id=a1"),
]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "RETELL_API_KEY"),
        ({"RETELL_API_KEY": "k"}, "CONNECTOR_API_TOKENS"),
        ({"RETELL_API_KEY": "k", "CONNECTOR_API_TOKENS": "short"}, "CONNECTOR_API_TOKENS"),
        (
            {"RETELL_API_KEY": "k", "CONNECTOR_API_TOKENS": TOKEN, "RETELL_BASE_URL": "ftp://x"},
            "RETELL_BASE_URL",
        ),
        (
            {
                "RETELL_API_KEY": "k",
                "CONNECTOR_API_TOKENS": TOKEN,
                "CONNECTOR_RETRY_SCHEDULE": "1,x",
            },
            "CONNECTOR_RETRY_SCHEDULE",
        ),
        (
            {"RETELL_API_KEY": "k", "CONNECTOR_API_TOKENS": TOKEN, "CONNECTOR_LOG_LEVEL": "LOUD"},
            "CONNECTOR_LOG_LEVEL",
        ),
        (
            {
                "RETELL_API_KEY": "k",
                "CONNECTOR_API_TOKENS": TOKEN,
                "CONNECTOR_DATABASE_URL": "mysql://x",
            },
            "CONNECTOR_DATABASE_URL",
        ),
    ],
)
def test_bad_settings_stop_startup_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], named: str
) -> None:
    """A missing or invalid setting raises one line that names it."""
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-000000000", "Basic abc", "Bearer "])
def test_protected_routes_need_a_known_token(
    client: FlaskClient, method: str, path: str, header: str | None
) -> None:
    """Every platform route answers 401 problem+json without a known bearer token."""
    headers = {"Authorization": header} if header else {}
    response = client.open(path, method=method, headers=headers, json={})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("DELETE", "/healthz", 405),
        ("GET", "/v1/actions/create-phone-call", 405),
    ],
)
def test_flask_errors_are_problem_json(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    """Flask's own 404 and 405 come back as problem+json."""
    response = client.open(path, method=method, headers=AUTH)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.json is not None and response.json["status"] == status


def test_oversize_body_is_413_problem(client: FlaskClient) -> None:
    """A body over the limit is refused with 413 problem+json."""
    response = client.post(
        "/v1/actions/create-phone-call",
        data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"a": NaN}', b"\xff\xfe"])
def test_malformed_json_is_400_naming_body(client: FlaskClient, body: bytes) -> None:
    """A body that is not JSON is a 400 problem naming ``body``."""
    response = client.post(
        "/v1/actions/create-phone-call",
        data=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json is not None and response.json["errors"][0]["path"] == "body"


def test_health_and_readiness(client: FlaskClient) -> None:
    """Liveness is always ok; readiness checks the store."""
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json is not None
    assert ready.json["checks"]["store"] == "ok"


def test_metrics_are_prometheus_text(client: FlaskClient) -> None:
    """/metrics exposes the request histogram in Prometheus text format."""
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"connector_http_request_seconds" in response.data


def test_me_returns_label_and_mode(client: FlaskClient, retell: FakeRetell) -> None:
    """The auth test returns a connection label and the mode."""
    retell.reply(
        "GET",
        "/get-api-key-info",
        200,
        {"org_id": "o1", "org_name": "Acme", "api_key_name": "prod"},
    )
    response = client.get("/v1/me", headers=AUTH)
    assert response.json == {
        "label": "Acme · prod · live",
        "mode": "live",
        "org_name": "Acme",
        "api_key_name": "prod",
    }


@pytest.mark.parametrize(
    ("failure", "status", "slug"),
    [
        (
            httpx.Response(
                401, json={"status": "error", "message": "API key is missing or invalid."}
            ),
            502,
            "retell-unauthorized",
        ),
        (httpx.ConnectError("refused"), 502, "retell-unavailable"),
        (httpx.ReadTimeout("slow"), 504, "retell-timeout"),
    ],
)
def test_me_tells_bad_key_from_unreachable(
    client: FlaskClient,
    retell: FakeRetell,
    failure: httpx.Response | Exception,
    status: int,
    slug: str,
) -> None:
    """/v1/me distinguishes a rejected Retell key from Retell being unreachable."""

    def handler(_request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    retell.on("GET", "/get-api-key-info", handler)
    response = client.get("/v1/me", headers=AUTH)
    assert response.status_code == status
    assert response.json is not None and response.json["type"].endswith(slug)


def test_options_labels_and_dedupe(client: FlaskClient, retell: FakeRetell) -> None:
    """Dropdowns are [{value, label}] with readable labels and no duplicates (agents: see
    tests/test_options.py)."""
    retell.reply(
        "GET",
        "/v2/list-phone-numbers",
        200,
        {
            "items": [
                {"phone_number": "+14157774444", "nickname": "Sales line"},
                {"phone_number": "+14157774444", "nickname": "Sales line"},
                {"phone_number": "+442071838750"},
            ],
            "has_more": False,
        },
    )
    numbers = client.get("/v1/options/phone-numbers", headers=AUTH).json
    assert numbers == [
        {"value": "+14157774444", "label": "+1 415-777-4444 · Sales line"},
        {"value": "+442071838750", "label": "+44 20 7183 8750"},
    ]


def test_manifest_has_base_url(tmp_path: Path, retell: FakeRetell) -> None:
    """/manifest.json fills in the public base URL."""
    app = create_app(
        make_settings(tmp_path, connector_public_url="https://hooks.example.com/"),
        retell_transport=retell.transport,
        configure_logs=False,
    )
    response = app.test_client().get("/manifest.json")
    assert response.status_code == 200 and response.json is not None
    assert response.json["base_url"] == "https://hooks.example.com"


@pytest.mark.parametrize("name", ["call", "problem", "create-phone-call.input"])
def test_schemas_are_served(client: FlaskClient, name: str) -> None:
    """Each schema the manifest references is served under /schemas/."""
    response = client.get(f"/schemas/{name}.json")
    assert response.status_code == 200
    assert response.json is not None and "$schema" in response.json


@pytest.mark.parametrize("name", ["..%2Fpyproject", "a" * 300])
def test_unknown_schema_is_404_problem(client: FlaskClient, name: str) -> None:
    """An unknown schema name (a path, or longer than a file name may be) is a 404 problem."""
    response = client.get(f"/schemas/{name}.json")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
