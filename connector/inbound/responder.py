"""Responders: subscriptions (``mode: "respond"``) asked synchronously while a call rings.

Each gets the ``call_inbound`` event (with the answer proposed so far), signed with
Standard Webhooks headers exactly like a delivery (``connector.delivery.signing``), through
the SSRF-guarded transport (``connector.delivery.ssrf``), never following a redirect. Its
reply counts only if it arrives within the subscription's budget (default 4 s, at most 8 s,
so Retell's 10 s are never used up; counted from the inbound request's arrival, less a
little kept for recording and sending the answer) with a 2xx and a valid answer
(``connector.inbound.answer.responder_fields``). Otherwise the reply is ignored with a
reason, which is logged and kept for the delivery log; the call is answered from rules and
saved context. Several responders are asked at once; each is waited for until its own
deadline, on a small pool of threads (a late one finishes in the background, bounded by
the same budget as its timeout).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Final

import httpx

from connector.delivery.signing import signed_headers
from connector.delivery.ssrf import TargetRefused
from connector.inbound.answer import responder_fields
from connector.store.subscriptions import Subscription

__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "MAX_BUDGET_SECONDS",
    "MIN_BUDGET_SECONDS",
    "RESERVE_SECONDS",
    "Reply",
    "Responders",
]

log = logging.getLogger(__name__)

DEFAULT_BUDGET_SECONDS: Final = 4.0
MAX_BUDGET_SECONDS: Final = 8.0
MIN_BUDGET_SECONDS: Final = 0.5
RESERVE_SECONDS: Final = 0.05
"""Kept back from every budget for recording and sending the answer, so that the answer
itself leaves within the budget, counted from the inbound request's arrival."""
MAX_ANSWER_BYTES: Final = 64 * 1024
EXCERPT_BYTES: Final = 1024  # kept for the delivery log, as for deliveries
_WORKERS: Final = 16


@dataclass(frozen=True)
class Reply:
    """What one responder did: the answer fields to use, or why there are none."""

    subscription: Subscription
    status_code: int | None
    duration_ms: float
    fields: dict[str, Any] | None
    error: str | None = None
    excerpt: str | None = None

    @property
    def used(self) -> bool:
        return self.fields is not None


def budget_of(subscription: Subscription) -> float:
    """The subscription's budget in seconds, within the allowed range."""
    chosen = subscription.respond_timeout_seconds or DEFAULT_BUDGET_SECONDS
    return min(max(chosen, MIN_BUDGET_SECONDS), MAX_BUDGET_SECONDS)


class Responders:
    """Asks responders over one pooled, guarded transport."""

    def __init__(
        self, transport: httpx.BaseTransport, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="inbound-responder")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._transport.close()

    def ask(
        self,
        subscriptions: Sequence[Subscription],
        event_id: str,
        body: str,
        *,
        started: float | None = None,
    ) -> list[Reply]:
        """Every responder's reply, in the order given, each within its budget.

        Budgets count from ``started`` (``time.monotonic()``; default: now): the inbound
        request's arrival, so the work before asking comes out of the budget, not on top;
        ``RESERVE_SECONDS`` of each is kept for what follows the replies.
        """
        started = time.monotonic() if started is None else started
        pending: list[tuple[Subscription, float, float, Future[Reply]]] = []
        for sub in subscriptions:
            budget = budget_of(sub)
            deadline = started + budget - RESERVE_SECONDS
            future = self._pool.submit(self._one, sub, event_id, body, deadline)
            pending.append((sub, budget, deadline, future))
        replies = []
        for sub, budget, deadline, future in pending:
            try:
                reply = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                future.cancel()
                reply = Reply(sub, None, _ms(started), None, f"no answer within {budget:g} s")
            if reply.error:
                log.warning(
                    "responder %s ignored for inbound event %s: %s", sub.id, event_id, reply.error
                )
            replies.append(reply)
        return replies

    def _one(self, sub: Subscription, event_id: str, body: str, deadline: float) -> Reply:
        started = time.monotonic()
        left = deadline - started
        if left <= 0:
            return Reply(sub, None, 0.0, None, "no answer within the budget")
        headers = signed_headers(sub.secret, event_id, body, now=self._clock())
        request = httpx.Request(
            "POST",
            sub.target_url,
            content=body.encode(),
            headers=headers,
            extensions={"timeout": httpx.Timeout(left).as_dict()},
        )
        try:
            response = self._transport.handle_request(request)
            try:
                raw = _read(response, deadline)
            finally:
                response.close()
        except TargetRefused as exc:
            return Reply(sub, None, _ms(started), None, f"refused: {exc}")
        except httpx.TimeoutException:
            return Reply(sub, None, _ms(started), None, f"no answer within {left:.3g} s")
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, TargetRefused):
                return Reply(sub, None, _ms(started), None, f"refused: {cause}")
            return Reply(sub, None, _ms(started), None, f"{type(exc).__name__}: {exc}"[:300])
        status, took = response.status_code, _ms(started)
        if raw is None:
            return Reply(sub, status, took, None, "the answer did not finish within the budget")
        excerpt = raw[:EXCERPT_BYTES].decode("utf-8", "replace")
        if response.is_redirect:
            where = response.headers.get("location", "?")
            return Reply(sub, status, took, None, f"redirect to {where} not followed", excerpt)
        if not response.is_success:
            return Reply(sub, status, took, None, f"HTTP {status}", excerpt)
        if len(raw) > MAX_ANSWER_BYTES:
            return Reply(sub, status, took, None, f"answer over {MAX_ANSWER_BYTES} bytes", excerpt)
        fields, reason = responder_fields(raw)
        if fields is None:
            return Reply(sub, status, took, None, f"answer ignored: {reason}", excerpt)
        return Reply(sub, status, took, fields, None, excerpt)


def _read(response: httpx.Response, deadline: float) -> bytes | None:
    """The body up to just past ``MAX_ANSWER_BYTES``; None when it runs past the deadline."""
    kept = b""
    try:
        for chunk in response.iter_raw():
            kept += chunk
            if len(kept) > MAX_ANSWER_BYTES:
                break
            if time.monotonic() > deadline:
                return None
    except httpx.StreamConsumed:  # a body already in memory (an in-process transport's)
        kept = response.content
    return kept


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
