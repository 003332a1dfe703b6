"""The Retell client: error mapping, safe retries, pagination, and no key in logs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from connector.retell import client as client_module
from connector.retell import errors
from connector.retell.client import RetellClient
from connector.retell.retry import RetryPolicy
from tests.conftest import RETELL_KEY, FakeRetell, sample_call

CREATE = ("POST", "/v2/create-phone-call")
GET = ("GET", "/v2/get-call/call_abc123")


def make_client(fake: FakeRetell, attempts: int = 3) -> RetellClient:
    return RetellClient(
        api_key=RETELL_KEY,
        base_url="https://retell.test",
        transport=fake.transport,
        retry=RetryPolicy.testing(attempts),
    )


@pytest.fixture(params=["transport", "send"])
def delivery(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a request reaches Retell: straight to the transport httpx would pick, or,
    where httpx has no ``Client._transport_for_url`` (a future version), ``Client.send``."""
    if request.param == "send":
        without_private_method(monkeypatch)
    return str(request.param)


def without_private_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients built from here on find no ``Client._transport_for_url`` (as if renamed); httpx
    itself still uses its own, so ``Client.send`` works."""
    monkeypatch.setattr(client_module, "_TRANSPORT_FOR_URL", "_transport_for_url_renamed")


def raising(exc: Exception):  # type: ignore[no-untyped-def]
    def handler(_request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, errors.RetellBadRequest),
        (401, errors.RetellAuthError),
        (402, errors.RetellPaymentError),
        (403, errors.RetellAuthError),
        (404, errors.RetellNotFound),
        (408, errors.RetellRequestTimeout),
        (409, errors.RetellConflict),
        (422, errors.RetellUnprocessable),
        (500, errors.RetellServerError),
        (503, errors.RetellServerError),
    ],
)
def test_status_maps_to_error_keeping_message(status: int, expected: type[Exception]) -> None:
    """Each Retell error status maps to its own exception with Retell's message."""
    fake = FakeRetell()
    fake.reply(*CREATE, status, {"status": "error", "message": f"boom {status}"})
    with pytest.raises(expected) as caught:
        make_client(fake).create_phone_call({"from_number": "+1", "to_number": "+2"})
    assert caught.value.message == f"boom {status}"  # type: ignore[attr-defined]


def test_non_json_error_body_keeps_a_message() -> None:
    """A non-JSON error body still yields a readable message."""
    fake = FakeRetell()
    fake.on(*CREATE, lambda _r: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(errors.RetellServerError, match="Bad gateway"):
        make_client(fake).create_phone_call({})


@pytest.mark.parametrize(
    ("route", "failure", "attempts"),
    [
        (CREATE, httpx.Response(500, json={"message": "x"}), 1),
        (CREATE, httpx.Response(408, json={"message": "timed out"}), 1),
        (CREATE, httpx.Response(409, json={"message": "in progress"}), 1),
        (CREATE, httpx.ReadTimeout("slow"), 1),
        (CREATE, httpx.RemoteProtocolError("dropped"), 1),
        (CREATE, httpx.ConnectError("refused"), 3),
        (
            CREATE,
            httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "1"}),
            3,
        ),
        (GET, httpx.Response(500, json={"message": "x"}), 3),
        (GET, httpx.ReadTimeout("slow"), 3),
        (GET, httpx.Response(408, json={"message": "timed out"}), 3),
        (GET, httpx.Response(409, json={"message": "busy"}), 3),
        (GET, httpx.Response(401, json={"message": "bad key"}), 1),
        (GET, httpx.Response(422, json={"message": "not found"}), 1),
    ],
)
def test_retries_only_where_safe(
    route: tuple[str, str], failure: httpx.Response | Exception, attempts: int
) -> None:
    """The create call is re-sent only when Retell provably did not act; reads retry."""
    fake = FakeRetell()
    if isinstance(failure, Exception):
        fake.on(*route, raising(failure))
    else:
        fake.on(*route, lambda _r: failure)
    client = make_client(fake)
    with pytest.raises(errors.RetellError):
        if route == CREATE:
            client.create_phone_call({})
        else:
            client.get_call("call_abc123")
    assert len(fake.sent(*route)) == attempts


def test_retry_after_is_honoured() -> None:
    """A 429's Retry-After is the delay used before the next attempt."""
    fake = FakeRetell()
    answers = iter(
        [
            httpx.Response(429, json={"message": "slow"}, headers={"Retry-After": "2"}),
            httpx.Response(201, json=sample_call()),
        ]
    )
    fake.on(*CREATE, lambda _r: next(answers))
    slept: list[float] = []
    client = RetellClient(
        api_key=RETELL_KEY,
        base_url="https://retell.test",
        transport=fake.transport,
        retry=RetryPolicy(attempts=3, sleep=slept.append),
    )
    assert client.create_phone_call({})["call_id"] == "call_abc123"
    assert slept == [2.0]


def test_retry_after_beyond_budget_gives_up() -> None:
    """A Retry-After longer than the policy allows is reported, not waited out."""
    fake = FakeRetell()
    fake.reply(*CREATE, 429, {"message": "slow"}, **{"Retry-After": "3600"})
    with pytest.raises(errors.RetellRateLimited) as caught:
        make_client(fake).create_phone_call({})
    assert caught.value.retry_after == 3600
    assert len(fake.sent(*CREATE)) == 1


def test_lists_follow_every_page() -> None:
    """Phone numbers are collected across pages using the pagination key."""
    fake = FakeRetell()

    def pages(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("pagination_key") == "p2":
            return httpx.Response(200, json={"items": [{"phone_number": "+2"}], "has_more": False})
        body = {"items": [{"phone_number": "+1"}], "has_more": True, "pagination_key": "p2"}
        return httpx.Response(200, json=body)

    fake.on("GET", "/v2/list-phone-numbers", pages)
    numbers = make_client(fake).list_phone_numbers()
    assert [n["phone_number"] for n in numbers] == ["+1", "+2"]


def test_whoami_falls_back_to_concurrency() -> None:
    """Where get-api-key-info is not served, get-concurrency proves the key."""
    fake = FakeRetell()
    fake.reply("GET", "/get-concurrency", 200, {"concurrency_limit": 20})
    assert make_client(fake).whoami() == {"concurrency_limit": 20}


def test_key_sent_as_bearer_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The API key goes in the Authorization header and appears in no log record."""
    caplog.set_level(logging.DEBUG)
    fake = FakeRetell()
    fake.reply(*GET, 500, {"message": "x"})
    with pytest.raises(errors.RetellServerError):
        make_client(fake).get_call("call_abc123")
    assert fake.requests[0].headers["Authorization"] == f"Bearer {RETELL_KEY}"
    assert RETELL_KEY not in caplog.text


@pytest.mark.parametrize(
    "base_url",
    [
        "https://retell.test",
        "https://retell.test/",
        "https://proxy.test/retell",
        "http://[::1]:8090/r/",
    ],
)
@pytest.mark.parametrize(
    ("call", "path"),
    [
        (
            lambda client: client.create_phone_call({"to_number": "+14155550123"}),
            "/v2/create-phone-call",
        ),
        (lambda client: client.list_calls({"limit": 1}), "/v3/list-calls"),
        (lambda client: client.get_call("call_abc123"), "/v2/get-call/call_abc123"),
    ],
    ids=["create", "list", "get"],
)
def test_requests_go_where_httpx_would_send_the_path(base_url, call, path) -> None:  # type: ignore[no-untyped-def]
    """Pre-merged hot paths reach exactly the URL httpx builds from the base URL and path."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"call_id": "call_abc123", "items": []})

    client = RetellClient(
        api_key=RETELL_KEY, base_url=base_url, transport=httpx.MockTransport(handler)
    )
    call(client)
    expected = httpx.Client(base_url=base_url).build_request("GET", path).url
    assert seen == [expected]
    assert str(expected).endswith(path) and str(expected).startswith(base_url.rstrip("/"))


def test_create_sends_what_an_httpx_client_would(delivery: str) -> None:
    """Requests, sent straight to the transport or through ``Client.send``, carry what
    ``httpx.Client`` would send: the key, the user agent, the JSON body and the timeouts."""
    fake = FakeRetell()
    fake.reply(*CREATE, 201, {"call_id": "call_abc123"})
    body = {"to_number": "+14155550123", "metadata": {"name": "Zoë"}}
    assert make_client(fake).create_phone_call(body) == {"call_id": "call_abc123"}
    (sent,) = fake.requests
    expected = httpx.Client(
        base_url="https://retell.test",
        headers={"Authorization": f"Bearer {RETELL_KEY}", "User-Agent": "retell-connector"},
        timeout=httpx.Timeout(30.0, connect=5.0, pool=5.0),
    ).build_request("POST", "/v2/create-phone-call", json=body)
    assert sent.method == expected.method
    assert sent.url == expected.url
    assert sent.headers.multi_items() == expected.headers.multi_items()
    assert sent.read() == expected.read()
    assert sent.extensions["timeout"] == expected.extensions["timeout"]


class CreatedCalls:
    """A loopback server answering every POST as Retell answers a created call (201, over
    HTTP/1.1 keep-alive); ``seen`` holds each request's path and client port, in order."""

    def __init__(self) -> None:
        seen: list[tuple[str, int]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                seen.append((self.path, self.client_address[1]))
                answer = json.dumps({"call_id": "call_abc123"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.seen = seen
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def created_calls() -> Iterator[CreatedCalls]:
    server = CreatedCalls()
    try:
        yield server
    finally:
        server.close()


def test_a_proxy_named_in_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, delivery: str, created_calls: CreatedCalls
) -> None:
    """Without an injected transport, ``HTTP(S)_PROXY`` is honoured as by ``httpx.Client``."""
    # the lower-case http_proxy would win over HTTP_PROXY (urllib reads it last)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", created_calls.url)
    client = RetellClient(api_key=RETELL_KEY, base_url="http://retell.invalid")
    assert client.create_phone_call({"to_number": "+14155550123"})["call_id"] == "call_abc123"
    client.close()
    assert [path for path, _port in created_calls.seen] == [
        "http://retell.invalid/v2/create-phone-call"
    ]


def test_without_the_private_method_client_send_delivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where httpx has no ``Client._transport_for_url``, each request goes through
    ``Client.send``, chosen once when the client is built."""
    without_private_method(monkeypatch)
    through_send: list[httpx.Request] = []
    send = httpx.Client.send

    def spy(self: httpx.Client, request: httpx.Request, **kwargs: object) -> httpx.Response:
        through_send.append(request)
        return send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", spy)
    fake = FakeRetell()
    fake.reply(*GET, 200, sample_call())
    client = make_client(fake)
    monkeypatch.setattr(client_module, "_TRANSPORT_FOR_URL", "_transport_for_url")  # too late
    assert client.get_call("call_abc123")["call_id"] == "call_abc123"
    assert client.get_call("call_abc123")["call_id"] == "call_abc123"
    assert through_send == fake.requests and len(through_send) == 2


def test_a_redirect_is_not_followed(delivery: str) -> None:
    """A 3xx from Retell is reported as an error, never followed to the place it names."""
    fake = FakeRetell()
    fake.reply(*GET, 302, {"message": "moved"}, Location="https://elsewhere.test/v2/get-call/x")
    with pytest.raises(errors.RetellBadRequest, match="moved"):
        make_client(fake).get_call("call_abc123")
    assert [r.url.host for r in fake.requests] == ["retell.test"]


def test_each_thread_keeps_its_own_connection_to_retell(
    delivery: str, created_calls: CreatedCalls
) -> None:
    """Two threads taking turns each reuse a kept-alive connection of their own: an idle
    connection is never handed to another thread (whose pool walk it would lengthen)."""
    client = RetellClient(api_key=RETELL_KEY, base_url=created_calls.url)
    turns = [threading.Event() for _ in range(11)]
    turns[0].set()

    def take_turns(first: int) -> None:
        for turn in range(first, 10, 2):  # thread 0: turns 0, 2, 4 ...; thread 1: 1, 3, 5 ...
            turns[turn].wait(10)
            client.create_phone_call({"to_number": "+14155550123"})
            turns[turn + 1].set()

    threads = [threading.Thread(target=take_turns, args=(n,)) for n in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    finally:
        client.close()
    ports = [port for _path, port in created_calls.seen]
    assert len(ports) == 10
    assert ports[0::2] == [ports[0]] * 5 and ports[1::2] == [ports[1]] * 5
    assert ports[0] != ports[1]
