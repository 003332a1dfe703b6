"""The state machine that plays each call on the sandbox clock and announces it by webhook.

registered ─ring→ ongoing ─talk→ ended ─analysis→ analyzed   (the callee picks up)
registered ─ring→ ended (not_connected / error) ─analysis→ analyzed   (it never connects)

Timestamps are wall-clock ms; a never-connected call gets start = end and duration 0.
A call holds a concurrency slot from its create until it ends; one placed over the limit
rings at once into ``concurrency_limit_reached`` (see ``concurrency``).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from connector.sandbox.calls import CallBook, SandboxCall, registered_call
from connector.sandbox.concurrency import OVER_LIMIT, Concurrency
from connector.sandbox.config import SandboxConfig
from connector.sandbox.content import analysis, costs, transcript_fields
from connector.sandbox.errors import ApiError
from connector.sandbox.scheduler import Scheduler
from connector.sandbox.validation import CreateRequest
from connector.sandbox.webhooks import Delivery, WebhookSender

__all__ = ["Lifecycle"]

_DEFAULT_EVENTS = ("call_started", "call_ended", "call_analyzed")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Lifecycle:
    """Places calls and moves them along; every step runs on the one scheduler thread."""

    def __init__(
        self,
        book: CallBook,
        scheduler: Scheduler,
        webhooks: WebhookSender,
        config: Callable[[], SandboxConfig],
        base_url: Callable[[], str],
        concurrency: Concurrency | None = None,
    ) -> None:
        self._book, self._clock, self._webhooks = book, scheduler, webhooks
        self._config, self._base_url = config, base_url
        self._concurrency = concurrency or Concurrency()

    def place(self, req: CreateRequest) -> tuple[dict[str, Any], bool]:
        """Create the call (or find the one with the same idempotency key); True if new.

        A new call takes a concurrency slot; over the limit it is refused with a 429 or
        rings straight into ``concurrency_limit_reached``, as configured.
        """
        config = self._config()

        def admit(call: SandboxCall) -> None:
            limit = config.concurrency_limit - config.reserved_inbound_concurrency
            if self._concurrency.admit(call.call_id, limit):
                return
            if config.concurrency_over_limit == "429":
                raise ApiError(
                    429, f"Concurrency limit reached ({config.concurrency_limit} calls)."
                )
            call.script, call.turns = OVER_LIMIT, []

        call, created = self._book.add(registered_call(req), req.idempotency_key, admit=admit)
        view = self._book.view(call.call_id) or {}  # before the clock can move it on
        if created:
            ring = 0.0 if call.script is OVER_LIMIT else config.ring_seconds
            self._clock.call_later(ring, lambda: self._ring(call.call_id))
        return view, created

    def start_inbound(self, call: SandboxCall) -> dict[str, Any]:
        """Play an inbound call already routed to its agent (``connector.sandbox.inbound``).

        It takes a concurrency slot like any call, up to the whole limit (the reserved
        inbound share is its own); over the limit it ends with ``concurrency_limit_reached``.
        """
        config = self._config()

        def admit(new: SandboxCall) -> None:
            if not self._concurrency.admit(new.call_id, config.concurrency_limit):
                new.script, new.turns = OVER_LIMIT, []

        call, _created = self._book.add(call, admit=admit)
        view = self._book.view(call.call_id) or {}
        ring = 0.0 if call.script is OVER_LIMIT else config.ring_seconds
        self._clock.call_later(ring, lambda: self._ring(call.call_id))
        return view

    def _events(self, call: SandboxCall) -> tuple[str, ...]:
        """The events this call's webhook target wants."""
        if call.webhook_events is not None:
            return call.webhook_events
        updates = ("transcript_updated",) if self._config().transcript_updates else ()
        return _DEFAULT_EVENTS + updates

    def _emit(self, call: SandboxCall, event: str, view: dict[str, Any]) -> None:
        """Queue ``event`` for the call's webhook target, if it wants it."""
        url = call.webhook_url or self._config().webhook_url
        if url and event in self._events(call):
            body = json.dumps({"event": event, "call": view}, ensure_ascii=False)
            self._webhooks.submit(Delivery(url, event, call.call_id, body))

    def _ring(self, call_id: str) -> None:
        """Ringing is over: the callee picks up, or the call never connects."""
        call, config, now = self._book.get(call_id), self._config(), _now_ms()
        if call is None:
            return
        script = call.script
        if not script.connects:
            self._concurrency.release(call_id)
            fields = {
                "call_status": script.call_status,
                "start_timestamp": now,
                "end_timestamp": now,
                "duration_ms": 0,
                "disconnection_reason": script.disconnection_reason,
            }
            view = self._book.advance(call_id, "ended", **fields, **costs(call_id, 0, []))
            self._emit(call, "call_ended", view)
            self._clock.call_later(config.analysis_seconds, lambda: self._analyze(call_id))
            return
        self._emit(
            call,
            "call_started",
            self._book.advance(call_id, "ongoing", call_status="ongoing", start_timestamp=now),
        )
        if "transcript_updated" in self._events(call):
            for turn in range(1, len(call.turns)):
                delay = config.talk_seconds * turn / len(call.turns)
                self._clock.call_later(delay, functools.partial(self._update, call_id, turn))
        self._clock.call_later(config.talk_seconds, lambda: self._end(call_id))

    def _update(self, call_id: str, turns: int) -> None:
        """One more turn spoken: a ``transcript_updated`` with the transcript so far."""
        call = self._book.get(call_id)
        view = self._book.view(call_id)
        if call is None or view is None or call.phase != "ongoing":
            return
        view |= transcript_fields(call.turns, self._config().talk_seconds, upto=turns)
        self._emit(call, "transcript_updated", view)

    def _end(self, call_id: str) -> None:
        """Hang up: fill in transcript, costs and recording; send call_ended."""
        call, now = self._book.get(call_id), _now_ms()
        view = self._book.view(call_id)
        if call is None or view is None:
            return
        self._concurrency.release(call_id)
        duration = now - int(view["start_timestamp"])
        base = f"{self._base_url()}/_sandbox"
        fields = {
            "call_status": call.script.call_status,
            "end_timestamp": now,
            "duration_ms": duration,
            "disconnection_reason": call.script.disconnection_reason,
            **transcript_fields(call.turns, duration / 1000),
            **costs(call_id, duration, call.turns),
            "recording_url": f"{base}/recordings/{call_id}.wav",
            "public_log_url": f"{base}/logs/{call_id}.txt",
            "collected_dynamic_variables": {"last_node_name": call.script.outcome},
        }
        view = self._book.advance(call_id, "ended", **fields)
        self._emit(call, "transcript_updated", view)  # Retell's final update as the call ends
        self._emit(call, "call_ended", view)  # no call_analysis yet, as Retell documents
        self._clock.call_later(self._config().analysis_seconds, lambda: self._analyze(call_id))

    def _analyze(self, call_id: str) -> None:
        """Post-call analysis is ready: send call_analyzed."""
        call = self._book.get(call_id)
        if call is None:
            return
        view = self._book.advance(
            call_id, "analyzed", call_analysis=analysis(call.script, call.variables)
        )
        self._emit(call, "call_analyzed", view)
