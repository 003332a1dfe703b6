"""The delivery loop: claim due deliveries, send them concurrently, record each outcome.

It runs as a thread inside ``serve`` (one per gunicorn worker) and as the standalone
``retell-connector worker``; any number may share one database. Ingest calls ``wake`` after
its commit so a new event goes out at once instead of at the next poll.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from connector.delivery.sender import Sender
from connector.store.outbox import DeliveryQueue, Job

__all__ = ["DeliveryWorker"]

log = logging.getLogger(__name__)


class DeliveryWorker:
    """Drains the outbox until stopped."""

    def __init__(
        self,
        queue: DeliveryQueue,
        sender: Sender,
        *,
        concurrency: int = 16,
        batch: int = 64,
        idle_seconds: float = 0.5,
    ) -> None:
        self._queue = queue
        self._sender = sender
        self._batch = batch
        self._idle = idle_seconds
        self._concurrency = concurrency
        self._in_flight = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deliver")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.last_loop_ok = True

    @property
    def queue(self) -> DeliveryQueue:
        return self._queue

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        """Claim as many due deliveries as there are free senders and start them.

        Claiming only what can start now keeps leases short and lets one slow subscriber
        hold up a single sender, not a whole batch.
        """
        with self._lock:
            free = self._concurrency - self._in_flight
        if free <= 0:
            return 0
        jobs = self._queue.claim(self.name, min(self._batch, free))
        with self._lock:
            self._in_flight += len(jobs)
        for job in jobs:
            self._pool.submit(self._deliver, job)
        return len(jobs)

    def drain(self, timeout: float = 30.0) -> None:
        """Deliver until nothing is due and nothing is in flight (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = self.run_once()
            with self._lock:
                idle = self._in_flight == 0
            if not started and idle:
                return
            self._wake.wait(0.01)
            self._wake.clear()
        raise TimeoutError("deliveries still in flight")

    def _deliver(self, job: Job) -> None:
        try:
            outcome = self._sender.send(job)
            state = self._queue.record(job, self.name, outcome)
            result = outcome.status_code or outcome.error
            log.info(
                "delivery %s attempt %d -> %s (%s)", job.delivery_id, job.attempt, result, state
            )
        except Exception:
            log.exception("delivery %s failed to record; its lease will expire", job.delivery_id)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._wake.set()

    def run(self) -> None:
        """Loop until ``stop``; store errors are logged and retried, never fatal."""
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
                self.last_loop_ok = True
            except Exception:
                log.exception("delivery loop failed; retrying")
                self.last_loop_ok = False
                busy = False
            if not busy:
                self._wake.wait(self._idle)
                self._wake.clear()

    def start(self) -> DeliveryWorker:
        self._thread = threading.Thread(target=self.run, name="delivery-worker", daemon=True)
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self) -> None:
        """Ask ``run`` to return after the current batch (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True)
        self._sender.close()
