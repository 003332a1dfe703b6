"""``PerThreadTransport``: each sender thread has a pool of its own; all of them close."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from connector.delivery.factory import SENDER_THREADS, build_worker
from connector.delivery.sender import Sender
from connector.per_thread import PerThreadTransport
from connector.settings import Settings
from connector.store.engine import create_store_engine
from connector.store.outbox import Job


class _Made:
    """A factory of mock transports that remembers which it made and which were closed."""

    def __init__(self) -> None:
        self.made: list[httpx.MockTransport] = []
        self.closed: list[httpx.MockTransport] = []

    def __call__(self) -> httpx.BaseTransport:
        made = self

        class _Recording(httpx.MockTransport):
            def close(self) -> None:
                made.closed.append(self)

        transport = _Recording(lambda request: httpx.Response(204))
        self.made.append(transport)
        return transport


def _get(transport: httpx.BaseTransport) -> int:
    return transport.handle_request(
        httpx.Request("POST", "https://hooks.example.com/h")
    ).status_code


def test_each_thread_gets_its_own_transport_once() -> None:
    """Four threads sending ten requests each make four transports, not forty or one."""
    made = _Made()
    transport = PerThreadTransport(made)
    barrier = threading.Barrier(4)  # all four threads alive at once: no thread reuse

    def send_ten() -> None:
        barrier.wait()
        for _ in range(10):
            assert _get(transport) == 204

    threads = [threading.Thread(target=send_ten) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made.made) == 4


def test_close_closes_every_threads_transport_and_refuses_new_ones() -> None:
    """Closing closes what every thread made; a thread that comes after gets an error."""
    made = _Made()
    transport = PerThreadTransport(made)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _n: _get(transport), range(30)))
    transport.close()
    assert made.closed and sorted(map(id, made.closed)) == sorted(map(id, made.made))
    with pytest.raises(RuntimeError, match="closed"):
        _get(transport)


def test_a_finished_threads_transport_is_closed_when_the_next_thread_starts() -> None:
    """A server with a thread per request leaves no pile of pools: an ended thread's
    transport is closed as soon as another thread makes one."""
    made = _Made()
    transport = PerThreadTransport(made)
    first = threading.Thread(target=_get, args=(transport,))
    first.start()
    first.join()
    assert made.closed == []
    second = threading.Thread(target=_get, args=(transport,))
    second.start()
    second.join()
    assert made.closed == [made.made[0]]
    transport.close()
    assert made.closed == made.made


class _CountingHandler(BaseHTTPRequestHandler):
    """Answers 204 over HTTP/1.1 keep-alive; records each request's client port."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).ports.append(self.client_address[1])
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


class _Backlogged(ThreadingHTTPServer):
    """Room for every sender thread's connect at once: with http.server's backlog of 5,
    32 threads connecting together were sometimes reset before they were accepted."""

    request_queue_size = 128


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[int]]]:
    _CountingHandler.ports = []
    server = _Backlogged(("127.0.0.1", 0), _CountingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", _CountingHandler.ports
    finally:
        server.shutdown()
        server.server_close()


def _worker_sender(tmp_path: Path, allow_private: bool) -> Sender:
    settings = Settings(
        _env_file=None,
        retell_api_key="key",
        connector_api_tokens="token-0123456789abcdef",
        connector_allow_private_targets=allow_private,
    )
    engine = create_store_engine(f"sqlite:///{tmp_path}/store.db")
    return build_worker(settings, engine)._sender  # the transport it built, not one given


def _job(url: str, n: int) -> Job:
    return Job(f"dlv_{n}", f"evt_{n}", "sub_1", url, "whsec_" + "A" * 32, "{}", 1)


def test_the_delivery_loop_keeps_each_senders_connection_alive(
    tmp_path: Path, counting_server: tuple[str, list[int]]
) -> None:
    """200 deliveries from the loop's sender threads reuse at most one connection each."""
    url, ports = counting_server
    sender = _worker_sender(tmp_path, allow_private=True)
    with ThreadPoolExecutor(SENDER_THREADS) as pool:
        outcomes = list(pool.map(lambda n: sender.send(_job(url, n)), range(200)))
    sender.close()
    assert all(outcome.ok for outcome in outcomes)
    assert len(ports) == 200
    assert len(set(ports)) <= SENDER_THREADS


def test_the_delivery_loops_own_pools_still_go_through_the_ssrf_guard(
    tmp_path: Path, counting_server: tuple[str, list[int]]
) -> None:
    """Without private targets allowed, a loopback subscriber is refused, never dialled."""
    url, ports = counting_server
    sender = _worker_sender(tmp_path, allow_private=False)
    outcome = sender.send(_job(url, 1))
    sender.close()
    assert outcome.permanent and outcome.error and outcome.error.startswith("refused")
    assert ports == []
