"""Signed webhook delivery, the way Retell does it.

``POST {"event": ..., "call": {...}}`` with ``x-retell-signature`` (``connector.retell.signature``),
10 s timeout, up to 3 retries on non-2xx or transport errors with a short doubling backoff.
Each retry is re-signed with a fresh timestamp (Retell doesn't document this either way).
A few sender threads each own a queue, and a call always maps to the same queue, so its events
arrive in order while a slow receiver never holds up the lifecycle clock.
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connector.retell.signature import sign
from connector.sandbox.config import SandboxConfig
from connector.sandbox.stats import Stats

__all__ = ["Delivery", "WebhookSender"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One event for one URL; ``body`` is the exact JSON text that gets signed and sent."""

    url: str
    event: str
    call_id: str
    body: str


class WebhookSender:
    """Queues deliveries and sends them from ``workers`` daemon threads (started lazily)."""

    def __init__(
        self,
        stats: Stats,
        config: Callable[[], SandboxConfig],
        *,
        workers: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._stats, self._config = stats, config
        self._queues: list[queue.SimpleQueue[Delivery | None]] = [
            queue.SimpleQueue() for _ in range(workers)
        ]
        self._threads: list[threading.Thread] = []
        self._transport = transport
        self._client: httpx.Client | None = None  # built with the threads: it costs ~20 ms
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=1000)

    def submit(self, delivery: Delivery) -> None:
        """Queue ``delivery`` behind the earlier events of the same call."""
        with self._lock:
            if self._stop.is_set():
                return
            if not self._threads:
                self._client = httpx.Client(transport=self._transport, follow_redirects=False)
                for index, q in enumerate(self._queues):
                    name = f"retell-sandbox-webhooks-{index}"
                    thread = threading.Thread(target=self._work, args=(q,), name=name, daemon=True)
                    thread.start()
                    self._threads.append(thread)
        self._queues[zlib.crc32(delivery.call_id.encode()) % len(self._queues)].put(delivery)

    def history(self) -> list[dict[str, Any]]:
        """The most recent deliveries, oldest first: event, call_id, url, attempts, ok."""
        with self._lock:
            return list(self._log)

    def close(self, timeout: float = 5.0) -> None:
        """Abandon queued deliveries, stop the threads and close the HTTP client."""
        with self._lock:
            self._stop.set()
            threads = list(self._threads)
        for q in self._queues:
            q.put(None)
        for thread in threads:
            thread.join(timeout)
        if self._client is not None:
            self._client.close()

    def _work(self, inbox: queue.SimpleQueue[Delivery | None]) -> None:
        while (delivery := inbox.get()) is not None and not self._stop.is_set():
            try:
                self._deliver(delivery)
            except Exception:  # never let one bad delivery kill the sender
                log.exception("sandbox webhook delivery crashed")

    def _deliver(self, delivery: Delivery) -> None:
        """Send one event, retrying with backoff; count the outcome."""
        config, attempts, ok = self._config(), 0, False
        for attempt in range(config.webhook_retries + 1):
            delay = config.webhook_backoff_seconds * 2 ** (attempt - 1) if attempt else 0.0
            if self._stop.wait(delay):
                return
            attempts += 1
            self._stats.incr("webhook_attempts")
            if ok := self._attempt(delivery, config):
                break
        self._stats.incr("webhooks_sent" if ok else "webhooks_failed")
        with self._lock:
            self._log.append(
                {
                    "event": delivery.event,
                    "call_id": delivery.call_id,
                    "url": delivery.url,
                    "attempts": attempts,
                    "ok": ok,
                }
            )

    def _attempt(self, delivery: Delivery, config: SandboxConfig) -> bool:
        """One signed POST; True on any 2xx."""
        assert self._client is not None  # set before any worker starts
        headers = {
            "content-type": "application/json",
            "user-agent": "retell-sandbox",
            "x-retell-signature": sign(delivery.body, config.api_key),
        }
        try:
            response = self._client.post(
                delivery.url,
                content=delivery.body.encode(),
                headers=headers,
                timeout=config.webhook_timeout_seconds,
            )
        except httpx.HTTPError as exc:
            log.info("sandbox webhook %s failed: %s", delivery.event, type(exc).__name__)
            return False
        return response.is_success
