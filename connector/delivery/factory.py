"""One way to build the delivery loop, shared by ``serve`` (in-process) and ``worker``."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from connector.delivery.sender import Sender
from connector.delivery.ssrf import guarded_transport
from connector.delivery.worker import DeliveryWorker
from connector.per_thread import PerThreadTransport
from connector.settings import Settings
from connector.store.outbox import DeliveryQueue

__all__ = ["CONNECTIONS_PER_SENDER", "SENDER_THREADS", "build_worker"]

SENDER_THREADS = 32  # concurrent deliveries per delivery loop
# Kept-alive connections of each sender thread's own pool (``per_thread``): a thread sends
# one delivery at a time, so these are to the last few subscribers it delivered to; a new
# subscriber past them closes the one used least lately.
CONNECTIONS_PER_SENDER = 4


def build_worker(
    settings: Settings, engine: Engine, *, transport: httpx.BaseTransport | None = None
) -> DeliveryWorker:
    """A worker on ``engine`` whose every connection goes through the SSRF guard."""
    # A lease outlives any one attempt (the timeout) with room to record it, so a live
    # worker never loses its claim, and a dead worker's claims return soon after.
    lease = 2 * settings.delivery_timeout_seconds + 10
    queue = DeliveryQueue(engine, schedule=settings.connector_retry_schedule, lease_seconds=lease)
    limits = httpx.Limits(
        max_connections=CONNECTIONS_PER_SENDER, max_keepalive_connections=CONNECTIONS_PER_SENDER
    )
    transport = transport or PerThreadTransport(
        lambda: guarded_transport(
            allow_private=settings.connector_allow_private_targets, limits=limits
        )
    )
    sender = Sender(transport, timeout=settings.delivery_timeout_seconds)
    return DeliveryWorker(queue, sender, concurrency=SENDER_THREADS)
