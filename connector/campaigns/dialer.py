"""The dialer loop: claim due calls within the concurrency budget, dial them, follow them up.

It runs as a thread beside the delivery loop, in every ``serve`` worker and in
``retell-connector worker``; any number share one database (``connector.campaigns.dialing``
holds the budget and the claims). Each loop turn:

1. claims jobs (fresh dials up to the free budget, and uncertain dials whose lease ran out)
   and sends each to Retell on a pool thread;
2. now and then, expires queued calls whose ``expires_at`` passed, and asks Retell about
   calls in flight that never reported their end (no webhook configured, or one lost): ended
   ones are settled, and past ``safety_seconds`` the slot is freed anyway.

What each Retell answer means for an attempt:

- 201: the call is in flight until its ``call_ended`` arrives (``on_call_event``).
- 429, or the request never reached Retell: back in the queue, the attempt not counted.
- timeout, 5xx, connection lost: Retell may have placed it; the attempt stays ``dialing`` and
  is reconciled by its idempotency key (a lookup, then a re-send with the *same* key while
  Retell still remembers it; after that the call fails as "outcome unknown" rather than risk
  a second call).
- 400/422: Retell refused this call for good: failed, with ``queued_call.failed``.
- 401/402: an account problem, not the lead's: retried later without counting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from connector.background import LoopThread
from connector.campaigns.capacity import CapacityGauge
from connector.campaigns.dialing import DialJob, DialQueue, Settled
from connector.metrics import CAMPAIGN_DIALS
from connector.retell.client import CONNECTOR_TAG, RetellClient
from connector.retell.errors import (
    RetellAuthError,
    RetellError,
    RetellPaymentError,
    RetellRateLimited,
)

__all__ = ["ENDING_EVENTS", "Dialer"]

log = logging.getLogger(__name__)

ENDING_EVENTS: Final = ("call_ended", "call_analyzed")
_ENDED_STATUSES: Final = ("ended", "not_connected", "error")
RETELL_KEY_WINDOW_SECONDS: Final = 3600.0
_KEY_WINDOW_MARGIN: Final = 300.0
_RETRY_UNCERTAIN_SECONDS: Final = 2.0
_ACCOUNT_PROBLEM_WAIT_SECONDS: Final = 60.0
_NOT_REACHED_WAIT_SECONDS: Final = 2.0
PURGE_EVERY_SECONDS: Final = 3600.0


class Dialer(LoopThread):
    """Dials queued calls until stopped."""

    thread_name = "dialer"

    def __init__(
        self,
        queue: DialQueue,
        retell: RetellClient,
        gauge: CapacityGauge,
        *,
        threads: int = 32,
        idle_seconds: float = 0.5,
        housekeeping_seconds: float = 1.0,
        poll_after_seconds: float = 30.0,
        safety_seconds: float = 7200.0,
        retention_seconds: float = 30 * 86_400.0,
        wake_delivery: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(idle_seconds=idle_seconds)
        self._queue = queue
        self._retell = retell
        self._gauge = gauge
        self._housekeeping = housekeeping_seconds
        self._poll_after = poll_after_seconds
        self._safety = safety_seconds
        self._wake_delivery = wake_delivery
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dial")
        self._threads = threads
        self._busy = 0
        self._lock = threading.Lock()
        self._last_housekeeping = float("-inf")
        self._retention = retention_seconds
        self._last_purge = float("-inf")
        self.name = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    @property
    def queue(self) -> DialQueue:
        return self._queue

    @property
    def gauge(self) -> CapacityGauge:
        return self._gauge

    # -- the loop --------------------------------------------------------------------------

    def run_once(self) -> int:
        """One turn: housekeeping when due, then claim and start dials; how many started."""
        if time.monotonic() - self._last_housekeeping >= self._housekeeping:
            self._last_housekeeping = time.monotonic()
            self.housekeeping()
        with self._lock:
            room = self._threads - self._busy
        if room <= 0:
            return 0
        # Retell's concurrency is read, and a claim made, only while calls are waiting: an idle
        # connector (most of them, most of the time) neither asks Retell nor locks the store.
        due, stale = self._queue.waiting()
        if not (due or stale):
            return 0
        budget = self._gauge.budget() if due else 0
        jobs, deliveries = self._queue.claim(self.name, budget, limit=room)
        if deliveries:
            self._wake_delivery()
        for job in jobs:
            with self._lock:
                self._busy += 1
            self._pool.submit(self._run_job, job)
        return len(jobs)

    def housekeeping(self) -> None:
        """Expire what passed its ``expires_at``; ask Retell about calls that never reported;
        once an hour, forget calls finished longer ago than the retention."""
        if self._queue.expire_due():
            self._wake_delivery()
        if time.monotonic() - self._last_purge >= PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            purged = self._queue.purge_finished(older_than=self._retention)
            if purged:
                log.info("forgot %d queued calls finished over the retention period", purged)
        for key, call_id, placed_at in self._queue.unreported(
            older_than=self._poll_after, limit=self._threads
        ):
            self._check(key, call_id, placed_at)

    def _check(self, key: str, call_id: str | None, placed_at: float) -> None:
        outcome: str | None = None
        ended = False
        if call_id is not None:
            try:
                call = self._retell.get_call(call_id)
                ended = call.get("call_status") in _ENDED_STATUSES
                outcome = call.get("disconnection_reason") if ended else None
            except RetellError as exc:
                log.info("queued attempt %s: could not look up its call (%s)", key, exc.message)
        if not ended and self._clock() - placed_at >= self._safety:
            ended, outcome = True, "no_end_reported"
            log.warning("queued attempt %s never reported its end; its slot is freed", key)
        if ended:
            self._settled(self._queue.settle(key, outcome=outcome, call_id=call_id))

    def _run_job(self, job: DialJob) -> None:
        try:
            if job.reconcile:
                self._reconcile(job)
            else:
                self._dial(job)
        except Exception:  # never lose track of a claim: its lease brings it back
            log.exception("queued call %s: dial %d failed", job.queued_id, job.number)
        finally:
            with self._lock:
                self._busy -= 1
            self._wake.set()

    def _dial(self, job: DialJob) -> None:
        try:
            call = self._retell.create_phone_call(job.body())
        except RetellRateLimited as exc:
            self._gauge.stale()
            self._queue.requeue(job, delay=exc.retry_after or 1.0, error=f"429: {exc.message}")
            CAMPAIGN_DIALS.labels("requeued").inc()
            return
        except (RetellAuthError, RetellPaymentError) as exc:
            log.warning("Retell refused dials for the account (%s); retrying later", exc.message)
            self._queue.requeue(
                job, delay=_ACCOUNT_PROBLEM_WAIT_SECONDS, error=f"{exc.status}: {exc.message}"
            )
            CAMPAIGN_DIALS.labels("requeued").inc()
            return
        except RetellError as exc:
            self._failed_dial(job, exc)
            return
        self._queue.placed(job, str(call.get("call_id")))
        CAMPAIGN_DIALS.labels("placed").inc()
        log.info(
            "queued call %s: dial %d placed as call %s",
            job.queued_id,
            job.number,
            call.get("call_id"),
        )

    def _failed_dial(self, job: DialJob, exc: RetellError) -> None:
        if exc.maybe_acted:
            log.info("queued call %s: dial %d uncertain (%s)", job.queued_id, job.number, exc)
            self._queue.uncertain(job, error=exc.message, retry_in=_RETRY_UNCERTAIN_SECONDS)
            CAMPAIGN_DIALS.labels("uncertain").inc()
        elif getattr(exc, "status", None) is None:  # never reached Retell
            self._queue.requeue(job, delay=_NOT_REACHED_WAIT_SECONDS, error=exc.message)
            CAMPAIGN_DIALS.labels("requeued").inc()
        else:
            reason = f"Retell refused the call: {exc.message}"
            self._settled_deliveries(self._queue.refused(job, reason=reason))
            CAMPAIGN_DIALS.labels("refused").inc()

    def _reconcile(self, job: DialJob) -> None:
        """An attempt that may have reached Retell: find its call, or re-send with its key."""
        try:
            found = self._retell.find_tagged_call(job.key)
        except RetellError as exc:
            self._queue.uncertain(job, error=exc.message, retry_in=_RETRY_UNCERTAIN_SECONDS)
            return
        if found is not None:
            self._queue.placed(job, str(found.get("call_id")))
            return
        if self._clock() - job.dialled_at < RETELL_KEY_WINDOW_SECONDS - _KEY_WINDOW_MARGIN:
            self._dial(job)  # the same key: Retell returns the first call if there was one
            return
        reason = (
            "the outcome of a dial is unknown and Retell's idempotency window has passed, "
            "so the connector will not dial again"
        )
        self._settled_deliveries(self._queue.refused(job, reason=reason))

    # -- call ends ---------------------------------------------------------------------------

    def on_call_event(self, event: str, call: dict[str, Any]) -> bool:
        """A Retell call event arrived: settle the attempt it ends. True if a slot was freed."""
        if event not in ENDING_EVENTS:
            return False
        metadata = call.get("metadata")
        key = metadata.get(CONNECTOR_TAG) if isinstance(metadata, dict) else None
        if not isinstance(key, str) or not key.startswith("rq-"):
            return False
        reason = call.get("disconnection_reason")
        outcome = reason if isinstance(reason, str) else None
        call_id = call.get("call_id")
        settled = self._queue.settle(
            key, outcome=outcome, call_id=call_id if isinstance(call_id, str) else None
        )
        self._settled(settled)
        return settled is not None

    def _settled(self, settled: Settled | None) -> None:
        if settled is None:
            return
        if settled.verdict == "requeue":
            self._gauge.stale()
        self._settled_deliveries(settled.deliveries)
        self._wake.set()

    def _settled_deliveries(self, deliveries: int) -> None:
        if deliveries:
            self._wake_delivery()

    # -- running -----------------------------------------------------------------------------

    def drain(self, timeout: float = 30.0, *, until: Callable[[], bool]) -> None:
        """Run turns until ``until()`` holds (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until():
                return
            self.run_once()
            self._wake.wait(0.02)
            self._wake.clear()
        raise TimeoutError("the queue did not reach the expected state in time")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming and finish the dials under way (their outcomes are recorded)."""
        super().stop(timeout)
        self._pool.shutdown(wait=True)
