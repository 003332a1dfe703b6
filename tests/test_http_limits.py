"""Limits on what a client may send: nesting depth, body size whatever the framing.

Size limits are checked in the Flask test client (with the stream marked terminated, as
gunicorn marks it) and through the real server: ``retell-connector serve`` on loopback in
front of the sandbox.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from retell.lib import webhook_auth

from connector.jsontext import MAX_DEPTH
from connector.limits import MAX_HEADER_BYTES, MAX_REQUEST_LINE_BYTES
from connector.manifest import schema_validator
from connector.platforms import load_source
from connector.platforms.openapi.document import document
from connector.sandbox import SandboxConfig, SandboxServer, create_sandbox_app, sandbox_of
from tests.conftest import AUTH, RETELL_KEY, TOKEN, FakeRetell
from tests.processes import free_port, stop_group, wait_ready

CREATE = "/v1/actions/create-phone-call"
SUBSCRIBE = "/v1/triggers/call-events/subscriptions"
WEBHOOK = "/v1/webhooks/retell"


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def retell_signed(body: bytes) -> dict[str, str]:
    ts = int(time.time() * 1000)
    signature = webhook_auth.symmetric["sign"](body.decode(), RETELL_KEY, ts)
    return {"x-retell-signature": signature}


def headers_for(path: str, body: bytes) -> dict[str, str]:
    """Credentials each route needs to get as far as reading the body."""
    extra = retell_signed(body) if path.startswith("/v1/webhooks/") else AUTH
    return {**extra, "Content-Type": "application/json"}


DEEP_BODIES: list[tuple[str, bytes]] = [
    ("10,000 nested arrays", deep_array(10_000)),
    ("10,000 nested objects", deep_object(10_000)),
    ("one level over the cap", deep_array(MAX_DEPTH + 1)),
    ("over the cap with a 19-digit number", b"[" * 2000 + b"1234567890123456789" + b"]" * 2000),
]


@pytest.mark.parametrize("path", [CREATE, SUBSCRIBE, WEBHOOK])
@pytest.mark.parametrize(("label", "body"), DEEP_BODIES, ids=[b[0] for b in DEEP_BODIES])
def test_deeply_nested_body_is_400_naming_body(
    client: FlaskClient, path: str, label: str, body: bytes
) -> None:
    """JSON nested past the cap is a 400 problem naming ``body``, never a RecursionError."""
    response = client.post(path, data=body, headers=headers_for(path, body))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["errors"][0]["path"] == "body"
    assert "nested more than" in response.json["errors"][0]["message"]


def test_nesting_at_the_cap_is_parsed(client: FlaskClient) -> None:
    """Nesting exactly at the cap is read as JSON and judged on its fields (422, not 400)."""
    metadata = deep_object(MAX_DEPTH - 1)  # inside the body object: MAX_DEPTH levels in all
    body = b'{"from_number": "+14157774444", "metadata": ' + metadata + b"}"
    response = client.post(CREATE, data=body, headers=headers_for(CREATE, body))
    assert response.status_code == 422
    assert response.json is not None
    assert [e["path"] for e in response.json["errors"]] == ["to_number"]


@pytest.fixture
def connector_get_json_app(app: Flask) -> Flask:
    """The connector's app with one extra route that reads its body with ``get_json``."""

    @app.post("/probe")
    def probe() -> dict[str, Any]:
        return {"type": type(request.get_json()).__name__}

    return app


def test_get_json_refuses_deep_nesting_in_the_connector(connector_get_json_app: Flask) -> None:
    """Flask's own ``get_json`` in the connector answers 400 problem+json, not 500."""
    client = connector_get_json_app.test_client()
    response = client.post("/probe", data=deep_array(10_000), content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    ok = client.post("/probe", json={"a": [1]})
    assert ok.json == {"type": "dict"}


@pytest.fixture
def sandbox_client() -> Iterator[FlaskClient]:
    app = create_sandbox_app(SandboxConfig.fast())
    try:
        yield app.test_client()
    finally:
        sandbox_of(app).close()


@pytest.mark.parametrize("path", ["/v2/create-phone-call", "/v3/list-calls", "/v2/list-agents"])
def test_sandbox_refuses_deep_nesting_with_400(sandbox_client: FlaskClient, path: str) -> None:
    """The sandbox answers a too-deep body as Retell answers bad JSON: 400, not 500."""
    key = SandboxConfig.fast().api_key
    response = sandbox_client.post(
        path,
        data=deep_array(10_000),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert json.loads(response.get_data())["status"] == "error"


# --- body size, whatever the framing ---------------------------------------------------------

MIB = 1024 * 1024
WEBHOOK_LIMIT = 256 * 1024
CALL = b'{"from_number": "+14157774444", "to_number": "+12137774445"}'
TARGET = b'{"target_url": "https://hooks.example.com/catch/1"}'
EVENT = b'{"event": "call_ended", "call": {"call_id": "call_padded"}}'


def padded(body: bytes, size: int) -> bytes:
    """``body`` followed by spaces up to ``size`` bytes: still one valid JSON document."""
    return body + b" " * (size - len(body))


# (label, path, body): each over its route's limit by a little, and by a lot.
OVERSIZE: list[tuple[str, str, bytes]] = [
    ("create, 1 byte over", CREATE, padded(CALL, MIB + 1)),
    ("create, 3 MB of spaces", CREATE, padded(CALL, 3 * MIB)),
    ("subscribe, 1 byte over", SUBSCRIBE, padded(TARGET, MIB + 1)),
    ("subscribe, 3 MB of spaces", SUBSCRIBE, padded(TARGET, 3 * MIB)),
    ("webhook, 1 byte over", WEBHOOK, padded(EVENT, WEBHOOK_LIMIT + 1)),
    ("webhook, 3 MB of spaces", WEBHOOK, padded(EVENT, 3 * MIB)),
]


def post_chunked(client: FlaskClient, path: str, body: bytes) -> Any:
    """A chunked POST (no Content-Length) read the way gunicorn hands it to the app."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**headers_for(path, body), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize(("label", "path", "body"), OVERSIZE, ids=[o[0] for o in OVERSIZE])
def test_chunked_body_over_the_limit_is_413(
    client: FlaskClient, retell: FakeRetell, label: str, path: str, body: bytes
) -> None:
    """A chunked body over the limit is refused with 413 naming ``body``; nothing is placed."""
    response = post_chunked(client, path, body)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json is not None and response.json["errors"][0]["path"] == "body"
    assert retell.sent("POST", "/v2/create-phone-call") == []


@pytest.mark.parametrize(("label", "path", "body"), OVERSIZE, ids=[o[0] for o in OVERSIZE])
def test_body_over_the_limit_with_content_length_is_413(
    client: FlaskClient, label: str, path: str, body: bytes
) -> None:
    """The same bodies sent with a Content-Length get the same 413."""
    response = client.post(path, data=body, headers=headers_for(path, body))
    assert response.status_code == 413
    assert response.json is not None and response.json["errors"][0]["path"] == "body"


# Every other route that reads a JSON body: (label, method, path, limit)
OTHER_BODIES: list[tuple[str, str, str, int]] = [
    ("queue a call", "POST", "/v1/actions/queue-phone-call", MIB),
    ("inbound rule", "POST", "/v1/inbound/rules", MIB),
    ("inbound rule replaced", "PUT", "/v1/inbound/rules/rule_1", MIB),
    ("inbound contact", "PUT", "/v1/inbound/contacts/+14155550123", MIB),
    ("inbound webhook", "POST", "/v1/webhooks/retell/inbound", WEBHOOK_LIMIT),
    ("MCP", "POST", "/mcp", MIB),
]


@pytest.mark.parametrize(
    ("label", "method", "path", "limit"), OTHER_BODIES, ids=[o[0] for o in OTHER_BODIES]
)
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_every_json_route_refuses_a_body_over_its_limit(
    client: FlaskClient, label: str, method: str, path: str, limit: int, chunked: bool
) -> None:
    """Every route that reads a body answers 413 naming ``body``, however it is framed."""
    body = padded(b"{}", limit + 1)
    headers = headers_for(path, body)
    if chunked:
        response = client.open(
            path,
            method=method,
            input_stream=io.BytesIO(body),
            headers={**headers, "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
    else:
        response = client.open(path, method=method, data=body, headers=headers)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json is not None and response.json["errors"][0]["path"] == "body"


@pytest.mark.parametrize(
    ("label", "method", "path", "limit"),
    [o for o in OTHER_BODIES if o[0] != "MCP"],  # MCP answers in JSON-RPC, not problem+json
    ids=[o[0] for o in OTHER_BODIES if o[0] != "MCP"],
)
def test_every_json_route_refuses_deep_nesting(
    client: FlaskClient, label: str, method: str, path: str, limit: int
) -> None:
    """Every route that parses a JSON body answers 400 naming ``body`` to 10,000 levels."""
    body = deep_array(10_000)
    response = client.open(path, method=method, data=body, headers=headers_for(path, body))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json is not None and response.json["errors"][0]["path"] == "body"


def test_chunked_body_at_the_limit_is_read_whole(client: FlaskClient, retell: FakeRetell) -> None:
    """A chunked body of exactly the limit is read to its end and the call is placed."""
    response = post_chunked(client, CREATE, padded(CALL, MIB))
    assert response.status_code == 201
    assert len(retell.sent("POST", "/v2/create-phone-call")) == 1


# --- through the real server ----------------------------------------------------------------


class Served:
    """``retell-connector serve`` (one worker) in front of an in-process sandbox."""

    def __init__(self, tmp: Path) -> None:
        self.sandbox = SandboxServer(SandboxConfig.fast()).start()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "RETELL_API_KEY": self.sandbox.config.api_key,
            "RETELL_BASE_URL": self.sandbox.url,
            "CONNECTOR_API_TOKENS": TOKEN,
            "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp / 'connector.db'}",
            "CONNECTOR_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "connector.cli", "serve", "--port", str(port)]
        command += ["--workers", "1", "--threads", "4"]
        self._log = (tmp / "serve.log").open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=self._log, start_new_session=True
        )
        if not wait_ready(self.url):
            self.close()
            raise RuntimeError("the connector did not become ready")

    def calls_created(self) -> int:
        return int(sandbox_of(self.sandbox.app).stats.snapshot().get("calls_created", 0))

    def close(self) -> None:
        stop_group(self.process)
        self._log.close()
        self.sandbox.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served(tmp_path_factory.mktemp("served"))
    yield server
    server.close()


def chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.slow
@pytest.mark.parametrize(("label", "path", "body"), OVERSIZE, ids=[o[0] for o in OVERSIZE])
def test_served_chunked_body_over_the_limit_is_413(
    served: Served, label: str, path: str, body: bytes
) -> None:
    """Under gunicorn, a chunked body over the limit is a 413 problem and places no call."""
    before = served.calls_created()
    response = httpx.post(
        served.url + path, content=chunks(body), headers=headers_for(path, body), timeout=30
    )
    assert "content-length" not in response.request.headers  # really sent chunked
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == "body"
    assert served.calls_created() == before


@pytest.mark.slow
def test_served_chunked_create_under_the_limit_places_the_call(served: Served) -> None:
    """Under gunicorn, a chunked create within the limit is read whole and placed once."""
    before = served.calls_created()
    body = padded(CALL, MIB - 1)
    response = httpx.post(
        served.url + CREATE, content=chunks(body), headers=headers_for(CREATE, body), timeout=30
    )
    assert response.status_code == 201, response.text[:300]
    assert served.calls_created() == before + 1


# --- errors gunicorn answers itself -------------------------------------------------------


def raw_exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes and read the answer to the end (the server closes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    return int(status_line.split(" ")[1]), headers, body


def request_bytes(target: str = "/healthz", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


LONG_KEY = {**AUTH, "Idempotency-Key": "k" * 10_000}
MANY_HEADERS = {f"X-Extra-{n}": "1" for n in range(120)}

# (label, raw request, status, slug, the field the problem names)
GUNICORN_ERRORS: list[tuple[str, bytes, int, str, str | None]] = [
    (
        "10,000-character Idempotency-Key",
        request_bytes("/v1/me", LONG_KEY).replace(b"GET", b"POST", 1),
        431,
        "header-too-large",
        "headers",
    ),
    ("120 headers", request_bytes("/healthz", MANY_HEADERS), 431, "header-too-large", "headers"),
    (
        "10,000-character URL",
        request_bytes("/v1/actions/get-call?call_id=" + "c" * 10_000),
        414,
        "uri-too-long",
        "url",
    ),
    ("malformed request line", b"NOT A REQUEST\r\n\r\n", 400, "bad-request", None),
    ("unknown HTTP version", b"GET / HTTP/7.1\r\nHost: x\r\n\r\n", 400, "bad-request", None),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("label", "raw", "status", "slug", "path"), GUNICORN_ERRORS, ids=[e[0] for e in GUNICORN_ERRORS]
)
def test_served_errors_before_the_app_are_problem_json(
    served: Served, label: str, raw: bytes, status: int, slug: str, path: str | None
) -> None:
    """Errors gunicorn answers itself are problem+json, not its HTML page."""
    got, headers, body = raw_exchange(served.url, raw)
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["type"].endswith("/" + slug)
    assert problem["title"] and problem["detail"]
    assert [e["path"] for e in problem.get("errors", [])] == ([path] if path else [])
    schema_validator("problem.json").validate(problem)


@pytest.mark.slow
def test_served_server_keeps_answering_after_its_own_errors(served: Served) -> None:
    """A refused request does not disturb the worker: the next request is answered normally."""
    raw_exchange(served.url, request_bytes("/healthz", MANY_HEADERS))
    assert httpx.get(served.url + "/healthz", timeout=5).json() == {"status": "ok"}


def test_openapi_documents_the_size_limits() -> None:
    """Every operation lists 414 and 431, every JSON-body operation 413, each with its limit."""
    doc = document(load_source("https://connector.example.com"))
    responses = doc["components"]["responses"]
    assert f"{MAX_REQUEST_LINE_BYTES:,} bytes" in responses["problem-414"]["description"]
    assert f"{MAX_HEADER_BYTES:,} bytes" in responses["problem-431"]["description"]
    assert "chunked" in responses["problem-413"]["description"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"414", "431"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert "413" in statuses, (method, path)
