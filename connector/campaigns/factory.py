"""One way to build the dialer, shared by ``serve`` (in-process) and ``worker``.

The dialer has a Retell client of its own that never retries a create by itself: a 429 or
an unreachable Retell puts the call back in the queue instead of holding a dial thread.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from connector.campaigns.capacity import CapacityGauge
from connector.campaigns.dialer import Dialer
from connector.campaigns.dialing import DialQueue
from connector.retell.client import RetellClient
from connector.retell.retry import RetryPolicy
from connector.settings import Settings

__all__ = ["DIAL_THREADS", "build_dialer"]

DIAL_THREADS = 32  # dials (and lookups) under way at once per dialer


def build_dialer(
    settings: Settings,
    engine: Engine,
    *,
    transport: httpx.BaseTransport | None = None,
    wake_delivery: Callable[[], None] = lambda: None,
) -> Dialer:
    retell = RetellClient(
        api_key=settings.retell_api_key.get_secret_value(),
        base_url=settings.retell_base_url,
        timeout=settings.retell_timeout_seconds,
        transport=transport,
        retry=RetryPolicy(attempts=1),
    )
    # A lease outlives one create request with room to record it; then it is reconciled.
    queue = DialQueue(engine, lease_seconds=2 * settings.retell_timeout_seconds + 10)
    gauge = CapacityGauge(
        retell,
        queue.in_flight,
        maximum=settings.connector_max_concurrent_calls,
        refresh_seconds=settings.concurrency_refresh_seconds,
    )
    return Dialer(
        queue,
        retell,
        gauge,
        threads=DIAL_THREADS,
        poll_after_seconds=settings.call_poll_seconds,
        safety_seconds=settings.call_safety_seconds,
        retention_seconds=settings.connector_queue_retention_days * 86_400,
        wake_delivery=wake_delivery,
    )
