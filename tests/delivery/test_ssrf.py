"""SSRF guard: literal address forms, local names, DNS rebinding, and dialling the checked IP."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore
import httpx
import pytest
from werkzeug.wrappers import Request, Response

from connector.delivery.ssrf import (
    GuardedBackend,
    TargetRefused,
    guarded_transport,
    is_forbidden_address,
    validate_target_url,
)
from connector.loopback import LoopbackServer

# (url, allow_private, the normalised URL if accepted, else a fragment of the refusal)
URLS: list[tuple[str, bool, str]] = [
    ("http://127.0.0.1", False, "loopback"),
    ("http://2130706433", False, "127.0.0.1 is a loopback"),
    ("http://0177.0.0.1", False, "127.0.0.1 is a loopback"),
    ("http://0x7f.0.0.1", False, "127.0.0.1 is a loopback"),
    ("http://0x7f000001/", False, "127.0.0.1 is a loopback"),
    ("http://127.1", False, "127.0.0.1 is a loopback"),
    ("http://127.0.0.1.", False, "loopback"),
    ("http://[::1]", False, "loopback"),
    ("http://[::ffff:127.0.0.1]", False, "embedded IPv4 127.0.0.1"),
    ("http://[::ffff:7f00:1]", False, "embedded IPv4 127.0.0.1"),
    ("http://[::127.0.0.1]", False, "embedded IPv4 127.0.0.1"),
    ("http://[64:ff9b::a00:1]", False, "embedded IPv4 10.0.0.1"),
    ("http://[64:ff9b:1::a00:1]", False, "NAT64"),
    ("http://[2002:a00:1::]", False, "embedded IPv4 10.0.0.1"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]", False, "Teredo"),
    ("http://169.254.169.254/latest/meta-data", False, "metadata"),
    ("http://[fd00:ec2::254]", False, "metadata"),
    ("http://100.64.0.1", False, "carrier-grade NAT"),
    ("http://10.0.0.1", False, "private"),
    ("http://172.16.0.1", False, "private"),
    ("http://192.168.1.1", False, "private"),
    ("http://0.0.0.0", False, "unspecified"),
    ("http://0", False, "unspecified"),
    ("http://[::]", False, "unspecified"),
    ("http://[fe80::1]", False, "link-local"),
    ("http://[fe80::1%25eth0]", False, "not a valid IPv6"),
    ("http://[fc00::1]", False, "unique-local"),
    ("http://[fec0::1]", False, "site-local"),
    ("http://224.0.0.1", False, "multicast"),
    ("http://255.255.255.255", False, "broadcast"),
    ("http://198.18.0.1", False, "benchmarking"),
    ("http://localhost", False, "local name"),
    ("http://LOCALHOST.", False, "local name"),
    ("http://foo.localhost", False, "local name"),
    ("https://printer.local/hook", False, "local name"),
    ("https://metadata.google.internal/computeMetadata/v1/", False, "metadata"),
    ("https://intranet/hook", False, "not a public domain"),
    ("http://user:pw@example.com", False, "user name or password"),
    ("https://hooks.zapier.com@127.0.0.1/", False, "user name or password"),
    ("ftp://example.com", False, "must start with"),
    ("hooks.zapier.com/hooks/catch/1/abc", False, "must start with"),
    ("http://example.com", False, "must use https://"),
    ("https://", False, "no host"),
    ("https://example.com:0/", False, "port"),
    ("https://example.com:99999/", False, "not a valid URL"),
    ("https://1.2.3.4.5/", False, "not a valid IP"),
    ("https://08.1.1.1/", False, "not a valid IP"),
    ("https://exa%6dple.com/", False, "not a valid host name"),
    ("https://example.com\\@127.0.0.1/", False, "backslashes"),
    ("https://example.com/a b", False, "spaces"),
    ("https://example.com/" + "a" * 2048, False, "longer than 2048"),
    # Unicode spellings, checked as the ASCII host they map to (UTS #46, as browsers do)
    ("https://127\u30020\u30020\u30021:8443/", False, "127.0.0.1 is a loopback"),
    ("https://127\uff0e0\uff0e0\uff0e1/", False, "127.0.0.1 is a loopback"),
    ("https://127\uff610\uff610\uff611/", False, "127.0.0.1 is a loopback"),
    ("https://127\u30020\u30020\u30021\u3002/", False, "127.0.0.1 is a loopback"),
    ("https://\uff11\uff12\uff17.0.0.1/", False, "127.0.0.1 is a loopback"),
    ("https://0x7f\u30021/", False, "127.0.0.1 is a loopback"),
    ("https://\uff11\uff10\u3002\uff10\u3002\uff10\u3002\uff11/", False, "10.0.0.1 is a private"),
    ("https://\uff2c\uff2f\uff23\uff21\uff2c\uff28\uff2f\uff33\uff34/", False, "local name"),
    ("https://printer\u3002local/", False, "local name"),
    ("http://169\u3002254\u3002169\u3002254/", True, "metadata"),
    ("https://exa\u3000mple.com/", False, "not a valid host name"),
    # accepted, normalised
    (
        "https://hooks.zapier.com/hooks/catch/1/abc",
        False,
        "https://hooks.zapier.com/hooks/catch/1/abc",
    ),
    ("https://93.184.215.14/", False, "https://93.184.215.14/"),
    ("https://1572394766", False, "https://93.184.215.14/"),
    ("HTTPS://Hooks.Zapier.COM:443/x?y=1#frag", False, "https://hooks.zapier.com/x?y=1"),
    (
        "https://n8n.example.com.:8443/webhook/abc",
        False,
        "https://n8n.example.com:8443/webhook/abc",
    ),
    ("https://münchen.example/hook", False, "https://xn--mnchen-3ya.example/hook"),
    ("https://hooks\u3002zapier\uff0ecom/x", False, "https://hooks.zapier.com/x"),
    ("https://[2606:4700:4700::1111]/", False, "https://[2606:4700:4700::1111]/"),
    ("https://[64:ff9b::808:808]/", False, "https://[64:ff9b::808:808]/"),
    # allow_private: loopback, private and http are fine for local development
    ("http://127.0.0.1:5000/hook", True, "http://127.0.0.1:5000/hook"),
    ("http://0x7f.1:8080", True, "http://127.0.0.1:8080/"),
    ("http://[::ffff:7f00:1]/", True, "http://[::ffff:7f00:1]/"),
    ("http://localhost:5678/webhook", True, "http://localhost:5678/webhook"),
    ("http://n8n:5678/webhook", True, "http://n8n:5678/webhook"),
    ("http://10.0.0.1/", True, "http://10.0.0.1/"),
    ("http://127\u30020\u30020\u30021:5000/hook", True, "http://127.0.0.1:5000/hook"),
    # ... but never the metadata service, nor credentials
    ("http://169.254.169.254/latest/meta-data", True, "metadata"),
    ("http://[::ffff:169.254.169.254]/", True, "metadata"),
    ("http://[fd00:ec2::254]", True, "metadata"),
    ("http://metadata.google.internal/", True, "metadata"),
    ("http://user:pw@127.0.0.1/", True, "user name or password"),
]


@pytest.mark.parametrize(("url", "allow_private", "expected"), URLS)
def test_validate_target_url(url: str, allow_private: bool, expected: str) -> None:
    """Each URL is refused with the expected reason, or accepted and normalised."""
    if expected.startswith(("http://", "https://")):
        assert validate_target_url(url, allow_private=allow_private) == expected
    else:
        with pytest.raises(TargetRefused, match=expected.replace(".", r"\.")):
            validate_target_url(url, allow_private=allow_private)


def test_normalised_url_is_stable() -> None:
    """Validating a normalised URL again returns it unchanged."""
    for url, allow_private, expected in URLS:
        if expected.startswith(("http://", "https://")):
            assert validate_target_url(expected, allow_private=allow_private) == expected, url


ADDRESSES: list[tuple[str, bool]] = [
    ("127.0.0.1", True),
    ("127.255.255.254", True),
    ("10.1.2.3", True),
    ("172.16.0.1", True),
    ("172.31.255.255", True),
    ("192.168.0.1", True),
    ("169.254.169.254", True),
    ("169.254.1.1", True),
    ("100.64.0.1", True),
    ("100.127.255.255", True),
    ("100.100.100.200", True),
    ("0.0.0.0", True),
    ("0.1.2.3", True),
    ("224.0.0.1", True),
    ("239.255.255.250", True),
    ("240.0.0.1", True),
    ("255.255.255.255", True),
    ("198.18.0.1", True),
    ("198.19.255.255", True),
    ("192.0.0.8", True),
    ("192.0.2.1", True),
    ("198.51.100.1", True),
    ("203.0.113.1", True),
    ("192.88.99.1", True),
    ("::", True),
    ("::1", True),
    ("fe80::1", True),
    ("fe80::1%eth0", True),
    ("febf::1", True),
    ("fec0::1", True),
    ("fc00::1", True),
    ("fd12:3456::1", True),
    ("fd00:ec2::254", True),
    ("ff02::1", True),
    ("2001:db8::1", True),
    ("100::1", True),
    ("::ffff:127.0.0.1", True),
    ("::ffff:10.0.0.1", True),
    ("::ffff:169.254.169.254", True),
    ("::127.0.0.1", True),
    ("::a00:1", True),
    ("64:ff9b::7f00:1", True),
    ("64:ff9b::a9fe:a9fe", True),
    ("64:ff9b:1::808:808", True),
    ("2002:7f00:1::", True),
    ("2002:c0a8:101::1", True),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),
    ("4000::1", True),
    # public
    ("8.8.8.8", False),
    ("93.184.215.14", False),
    ("1.1.1.1", False),
    ("100.63.255.255", False),
    ("100.128.0.0", False),
    ("172.15.255.255", False),
    ("172.32.0.0", False),
    ("169.253.255.255", False),
    ("2606:4700:4700::1111", False),
    ("2a00:1450:4001:80b::200e", False),
    ("::ffff:8.8.8.8", False),
    ("64:ff9b::808:808", False),
    ("2002:808:808::1", False),
]


@pytest.mark.parametrize(("address", "forbidden"), ADDRESSES)
def test_is_forbidden_address(address: str, forbidden: bool) -> None:
    """Loopback, private, link-local, CGNAT, metadata and special ranges, and their IPv6 forms."""
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


# --- connect time -----------------------------------------------------------------------


Dial = tuple[str, int]


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails the test: refusals must happen before connecting."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"a connection was attempted: {args} {kwargs}")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", boom)
    monkeypatch.setattr(socket, "create_connection", boom)


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> list[Dial]:
    """Record what the default backend is asked to dial, then dial it."""
    seen: list[Dial] = []
    real = httpcore.SyncBackend.connect_tcp

    def spy(self: httpcore.SyncBackend, host: str, port: int, *args: Any, **kw: Any) -> Any:
        seen.append((host, port))
        return real(self, host, port, *args, **kw)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", spy)
    return seen


def resolving(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver from a fixed table, standing in for DNS."""
    return lambda host, port: table[host]


def post(url: str, *, allow_private: bool, table: dict[str, list[str]]) -> httpx.Response:
    """POST through the guarded transport with the documented client settings."""
    transport = guarded_transport(allow_private=allow_private, resolver=resolving(table))
    with httpx.Client(transport=transport, follow_redirects=False, trust_env=False) as client:
        return client.post(url, json={"event": "call_ended"}, timeout=5)


@pytest.mark.usefixtures("no_connect")
@pytest.mark.parametrize(
    ("url", "answers", "allow_private", "fragment"),
    [
        ("https://hooks.example.com/h", ["10.0.0.5"], False, r"private address \(10\.0\.0\.5\)"),
        ("https://hooks.example.com/h", ["93.184.215.14", "127.0.0.1"], False, "loopback"),
        ("https://hooks.example.com/h", ["2606:4700::1", "::ffff:a9fe:a9fe"], False, "metadata"),
        ("https://hooks.example.com/h", ["64:ff9b::c0a8:101"], False, "192.168.1.1"),
        ("https://hooks.example.com/h", ["169.254.169.254"], True, "metadata"),
        ("https://hooks.example.com/h", ["not-an-address"], False, "invalid address"),
        ("https://127.0.0.1/h", ["127.0.0.1"], False, "target address 127.0.0.1 is a loopback"),
    ],
)
def test_transport_refuses_before_connecting(
    url: str, answers: list[str], allow_private: bool, fragment: str
) -> None:
    """A name resolving to a forbidden address (rebinding) is refused with no connection."""
    host = httpx.URL(url).host
    with pytest.raises(TargetRefused, match=fragment):
        post(url, allow_private=allow_private, table={host: answers})


def test_default_resolver_is_checked(monkeypatch: pytest.MonkeyPatch, no_connect: None) -> None:
    """Without an injected resolver, getaddrinfo's answers are what gets checked."""
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.10", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **kw: answers)
    backend = GuardedBackend(allow_private=False)
    with pytest.raises(TargetRefused, match=r"192\.168\.1\.10"):
        backend.connect_tcp("hooks.example.com", 443)


def test_unix_socket_refused(no_connect: None) -> None:
    """Unix sockets only reach local services."""
    with pytest.raises(TargetRefused, match="local socket"):
        GuardedBackend(allow_private=True).connect_unix_socket("/var/run/docker.sock")


def test_loopback_delivery_dials_the_checked_ip(dials: list[Dial]) -> None:
    """With allow_private, a name resolving to 127.0.0.1 is delivered, and 127.0.0.1 is dialled."""
    received: list[tuple[str, bytes]] = []

    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        received.append((request.host, request.get_data()))
        return Response("ok")(environ, start_response)

    with LoopbackServer(app) as server:
        url = f"http://hooks.test:{server.port}/hook"
        response = post(url, allow_private=True, table={"hooks.test": ["127.0.0.1"]})
    assert response.status_code == 200
    assert dials == [("127.0.0.1", server.port)]
    assert received == [(f"hooks.test:{server.port}", b'{"event":"call_ended"}')]


class _FakeStream(httpcore.NetworkStream):
    """Stands in for a TCP connection and records the TLS handshake it is asked for."""

    def __init__(self, handshakes: list[str | None]) -> None:
        self._handshakes = handshakes

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self._handshakes.append(server_hostname)
        raise httpcore.ConnectError("handshake stopped by the test")

    def close(self) -> None:
        pass


@pytest.fixture
def fake_dial(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[Dial], list[str | None]]]:
    """The default backend returns a fake stream: no packet leaves the process."""
    dialled: list[Dial] = []
    handshakes: list[str | None] = []

    def connect(self: Any, host: str, port: int, *args: Any, **kw: Any) -> httpcore.NetworkStream:
        dialled.append((host, port))
        return _FakeStream(handshakes)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **kw: pytest.fail("real connect"))
    yield dialled, handshakes


def test_tls_verifies_the_hostname_not_the_ip(
    fake_dial: tuple[list[Dial], list[str | None]],
) -> None:
    """The IP literal is dialled, but SNI and certificate checks use the URL's host name."""
    dialled, handshakes = fake_dial
    with pytest.raises(httpx.ConnectError, match="handshake stopped"):
        post(
            "https://hooks.example.com/h",
            allow_private=False,
            table={"hooks.example.com": ["93.184.215.14"]},
        )
    assert dialled == [("93.184.215.14", 443)]
    assert handshakes == ["hooks.example.com"]


def test_falls_back_to_the_next_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the first address does not answer, the next checked one is tried, in order."""
    dialled: list[str] = []
    stream = _FakeStream([])

    def connect(self: Any, host: str, port: int, *args: Any, **kw: Any) -> httpcore.NetworkStream:
        dialled.append(host)
        if host == "2606:4700::1":
            raise httpcore.ConnectError("network unreachable")
        return stream

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    backend = GuardedBackend(
        allow_private=False, resolver=resolving({"h.example.com": ["2606:4700::1", "8.8.8.8"]})
    )
    assert backend.connect_tcp("h.example.com", 443, timeout=1) is stream
    assert dialled == ["2606:4700::1", "8.8.8.8"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "resolver_error",
    [None, socket.gaierror(socket.EAI_NONAME, "Name or service not known")],
)
def test_ordinary_failures_are_not_refusals(resolver_error: OSError | None) -> None:
    """Nothing listening, or a name that does not resolve, is an httpx.ConnectError, not a refusal."""
    port = _closed_port()

    def resolver(host: str, port: int) -> list[str]:
        if resolver_error is not None:
            raise resolver_error
        return ["127.0.0.1"]

    transport = guarded_transport(allow_private=True, resolver=resolver)
    client = httpx.Client(transport=transport, follow_redirects=False, trust_env=False)
    with client, pytest.raises(httpx.ConnectError) as caught:
        client.post(f"http://hooks.test:{port}/", content=b"{}", timeout=5)
    assert not isinstance(caught.value, TargetRefused)
    assert not isinstance(caught.value.__cause__, TargetRefused)
