"""A connection pool per thread, instead of one pool that every thread scans.

On every request, httpcore's ``ConnectionPool`` walks all its connections (is each idle,
expired, readable: a ``poll`` of its socket) and all its queued requests, under one lock.
The delivery loop's 32 sender threads shared one pool of 32 kept-alive connections, and
that walk cost more CPU than the rest of sending a delivery while the threads queued on
the pool's lock; the Retell client, shared by every request thread, had the same walk.
A thread sends one request at a time, so it needs connections only to the few hosts it
spoke to lately: here each thread gets a small pool of its own, built by ``factory`` (for
deliveries the SSRF-guarded transport, so every connection is still checked), and the
walk is over a handful of connections no other thread touches. Measured in-process on
PostgreSQL, one delivery loop draining 3,000 deliveries: 610-830 instead of 857-1,447 µs
of CPU per delivery (``bench/README.md``, P3).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from connector.tls import verifying_context

__all__ = ["PerThreadTransport", "pools_per_thread"]


class PerThreadTransport(httpx.BaseTransport):
    """Hands each calling thread a transport of its own, made on its first request."""

    def __init__(self, factory: Callable[[], httpx.BaseTransport]) -> None:
        self._factory = factory
        self._mine = threading.local()
        # Every live thread's, to close them all; a thread that ended leaves its transport
        # (and kept-alive connections) here until the next thread makes one, which closes
        # it: servers that start a thread per request must not pile them up.
        self._made: list[tuple[threading.Thread, httpx.BaseTransport]] = []
        self._lock = threading.Lock()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport: httpx.BaseTransport | None = getattr(self._mine, "transport", None)
        if transport is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the transport is closed")
                alive: list[tuple[threading.Thread, httpx.BaseTransport]] = []
                ended: list[tuple[threading.Thread, httpx.BaseTransport]] = []
                for thread, made in self._made:  # one look each: a thread may end meanwhile
                    (alive if thread.is_alive() else ended).append((thread, made))
                transport = self._factory()
                self._made = alive
                self._made.append((threading.current_thread(), transport))
            self._mine.transport = transport
            for _thread, made in ended:
                made.close()
        return transport.handle_request(request)

    def close(self) -> None:
        """Close every thread's transport (call once the threads are done with them)."""
        with self._lock:
            made, self._made, self._closed = self._made, [], True
        for _thread, transport in made:
            transport.close()


def pools_per_thread(connections: int) -> PerThreadTransport:
    """Plain kept-alive pools of ``connections`` each, one per thread, all sharing the
    process's verifying SSL context (``connector.tls``)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return PerThreadTransport(
        lambda: httpx.HTTPTransport(verify=verifying_context(), limits=limits)
    )
