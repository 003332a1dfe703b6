"""The delivery loop: claim due deliveries, send them concurrently, record outcomes in batches.

It runs as a thread inside ``serve`` (one per gunicorn worker) and as the standalone
``retell-connector worker``; any number may share one database. Ingest calls ``wake`` after
its commit so a new event goes out at once instead of at the next poll.

The database, not the network, limits a delivery loop, so its work is batched: claims take
up to a batch of due deliveries (keeping at most two per sender claimed, so a lease always
outlives the wait), and a recorder thread commits every outcome that has arrived since its
last commit in one transaction (group commit). Nothing is acknowledged by batching: an
outcome not yet recorded when the process dies is simply delivered again after its lease.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from connector.background import LoopThread
from connector.delivery.sender import Sender
from connector.log_sampling import SampledLog
from connector.store.outbox import DeliveryQueue, Job, Outcome

__all__ = ["DeliveryWorker"]

log = logging.getLogger(__name__)
# Successes: a line each while few, a summary a second while many (the delivery log in the
# store keeps every attempt). A line per delivery was a tenth of a delivery's CPU.
delivered_lines = SampledLog(log, "deliveries")
_ATTEMPT_LINE = "delivery %s attempt %d -> %s (%s)"

_RECORD_BATCH = 256


class DeliveryWorker(LoopThread):
    """Drains the outbox until stopped."""

    thread_name = "delivery-worker"

    def __init__(
        self,
        queue_: DeliveryQueue,
        sender: Sender,
        *,
        concurrency: int = 32,
        batch: int = 64,
        idle_seconds: float = 0.5,
    ) -> None:
        super().__init__(idle_seconds=idle_seconds)
        self._queue = queue_
        self._sender = sender
        self._batch = batch
        self._capacity = 2 * concurrency
        self._claimed = 0  # claimed and not yet recorded
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deliver")
        self._outcomes: queue.SimpleQueue[tuple[Job, Outcome] | None] = queue.SimpleQueue()
        self._recorder: threading.Thread | None = None  # started with the first claim
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    @property
    def queue(self) -> DeliveryQueue:
        return self._queue

    def run_once(self) -> int:
        """Claim due deliveries up to the free capacity and hand them to the senders."""
        with self._lock:
            free = self._capacity - self._claimed
            idle = self._claimed == 0
        # Wait for a batch's worth of room unless idle: fewer, larger claim transactions.
        if free <= 0 or (not idle and free < self._capacity // 4):
            return 0
        jobs = self._queue.claim(self.name, min(self._batch, free))
        if jobs and self._recorder is None:
            self._recorder = threading.Thread(
                target=self._record_loop, name="delivery-recorder", daemon=True
            )
            self._recorder.start()
        with self._lock:
            self._claimed += len(jobs)
        for job in jobs:
            self._pool.submit(self._deliver, job)
        return len(jobs)

    def _deliver(self, job: Job) -> None:
        try:
            outcome = self._sender.send(job)
        except Exception as exc:  # never lose track of a claim
            log.exception("delivery %s: sender failed", job.delivery_id)
            outcome = Outcome(None, 0.0, error=f"internal error: {type(exc).__name__}")
        self._outcomes.put((job, outcome))

    def _record_loop(self) -> None:
        while True:
            first = self._outcomes.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _RECORD_BATCH:
                try:
                    item = self._outcomes.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._outcomes.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._record(batch)

    def _record(self, batch: list[tuple[Job, Outcome]]) -> None:
        try:
            states = self._queue.record_many(self.name, batch)
            for (job, outcome), state in zip(batch, states, strict=True):
                args = (job.delivery_id, job.attempt, outcome.status_code or outcome.error, state)
                if state == "succeeded":
                    delivered_lines.info({"succeeded": 1}, _ATTEMPT_LINE, *args)
                else:  # every failure, retry and dead letter keeps its own line
                    log.info(_ATTEMPT_LINE, *args)
        except Exception:
            log.exception("recording %d deliveries failed; their leases will expire", len(batch))
        finally:
            with self._lock:
                self._claimed -= len(batch)
            self._wake.set()

    def drain(self, timeout: float = 30.0) -> None:
        """Deliver until nothing is due and nothing is in flight (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Idle is read before claiming: an attempt is recorded (committed) before its claim
            # is released, so "nothing in flight, then nothing due" means done. Read after the
            # claim, a record committed between the two would be missed (a retry due at once).
            with self._lock:
                idle = self._claimed == 0
            started = self.run_once()
            if not started and idle:
                return
            self._wake.wait(0.01)
            self._wake.clear()
        raise TimeoutError("deliveries still in flight")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, finish and record what is in flight, then close."""
        super().stop(timeout)
        self._pool.shutdown(wait=True)
        if self._recorder is not None:
            self._outcomes.put(None)
            self._recorder.join(timeout)
        self._sender.close()
