"""``Sender``: one attempt straight through the transport, with a bounded read of the reply."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from connector.delivery.sender import RESPONSE_EXCERPT_BYTES, Sender
from connector.store.outbox import Job

JOB = Job("dlv_1", "evt_1", "sub_1", "https://hooks.example.com/h", "whsec_" + "A" * 32, "{}", 1)


class _EndlessBody(httpx.SyncByteStream):
    """A reply body that never ends; counts how much of it was read."""

    def __init__(self) -> None:
        self.chunks_read = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            self.chunks_read += 1
            yield b"z" * 65_536


def test_a_huge_reply_is_not_read_past_the_excerpt() -> None:
    """A subscriber answering with an endless body costs one chunk, not memory without end."""
    body = _EndlessBody()
    sender = Sender(httpx.MockTransport(lambda _r: httpx.Response(200, stream=body)))
    outcome = sender.send(JOB)
    assert outcome.ok
    assert outcome.response_body == "z" * RESPONSE_EXCERPT_BYTES
    assert body.chunks_read == 1


def test_the_request_is_signed_and_carries_the_body() -> None:
    """The POST carries the stored body, the event id and a Standard Webhooks signature."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    outcome = Sender(httpx.MockTransport(handle)).send(JOB)
    (request,) = seen
    assert outcome.status_code == 204 and outcome.error is None
    assert request.method == "POST" and request.content == b"{}"
    assert request.headers["webhook-id"] == "evt_1"
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"


def test_timeouts_reach_the_transport() -> None:
    """The delivery timeout is passed to the transport on every request."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    Sender(httpx.MockTransport(handle), timeout=7.0).send(JOB)
    assert seen[0].extensions["timeout"] == httpx.Timeout(7.0).as_dict()


def test_a_compressed_reply_is_kept_as_sent() -> None:
    """Reply bodies are never decompressed, so a small gzip reply cannot expand in memory."""
    import gzip

    class _Stream(httpx.SyncByteStream):  # as a network transport hands it over: unread
        def __iter__(self) -> Iterator[bytes]:
            yield gzip.compress(b"0" * 10_000_000)

    gzip_reply = httpx.Response(200, stream=_Stream(), headers={"Content-Encoding": "gzip"})
    sender = Sender(httpx.MockTransport(lambda _r: gzip_reply))
    outcome = sender.send(JOB)
    assert outcome.ok
    assert outcome.response_body is not None and "0" * 100 not in outcome.response_body
