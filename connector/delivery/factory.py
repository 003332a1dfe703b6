"""One way to build the delivery loop, shared by ``serve`` (in-process) and ``worker``."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from connector.delivery.sender import Sender
from connector.delivery.ssrf import guarded_transport
from connector.delivery.worker import DeliveryWorker
from connector.settings import Settings
from connector.store.outbox import DeliveryQueue

__all__ = ["SENDER_THREADS", "build_worker"]

SENDER_THREADS = 32  # concurrent deliveries per delivery loop


def build_worker(
    settings: Settings, engine: Engine, *, transport: httpx.BaseTransport | None = None
) -> DeliveryWorker:
    """A worker on ``engine`` whose every connection goes through the SSRF guard."""
    # A lease outlives any one attempt (the timeout) with room to record it, so a live
    # worker never loses its claim, and a dead worker's claims return soon after.
    lease = 2 * settings.delivery_timeout_seconds + 10
    queue = DeliveryQueue(engine, schedule=settings.connector_retry_schedule, lease_seconds=lease)
    transport = transport or guarded_transport(
        allow_private=settings.connector_allow_private_targets,
        # One kept-alive connection per sender thread, so a busy subscriber's connections
        # are reused rather than closed and re-opened (the default keeps only 20).
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=SENDER_THREADS),
    )
    sender = Sender(transport, timeout=settings.delivery_timeout_seconds)
    return DeliveryWorker(queue, sender, concurrency=SENDER_THREADS)
