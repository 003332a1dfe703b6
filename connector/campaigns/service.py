"""The campaign capability the API calls: queue a call (idempotently), look up, cancel, steer.

Idempotency as for Create Phone Call (DESIGN §4): the key is scoped to (token, route) in the
same idempotency store; the same key and body answer the stored 202 without queueing again,
a different body is a 422, and a request still in progress a 409. The queued call's id is
derived from the scoped key, so a request that died between storing the call and storing
the answer finds the same call when retried instead of queueing a second one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.calls import fingerprint
from connector.campaigns.queue import Page, QueueStore
from connector.campaigns.requests import validate_queue
from connector.campaigns.windows import parse_window, window_json
from connector.problems import FieldError, ValidationFailed
from connector.store.idempotency import IdempotencyStore

__all__ = ["CampaignService", "QueueResult"]

ROUTE = "queue-phone-call"


@dataclass(frozen=True)
class QueueResult:
    """The answer to send: the queued call as JSON text, and whether it is a replay."""

    status: int
    body: str
    replayed: bool = False


class CampaignService:
    """Queued calls and campaigns for the API."""

    def __init__(
        self,
        store: QueueStore,
        keys: IdempotencyStore,
        *,
        wake_dialer: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        default_region: str | None = None,
    ) -> None:
        self._store = store
        self._default_region = default_region
        self._keys = keys
        self._wake = wake_dialer
        self._clock = clock

    @property
    def store(self) -> QueueStore:
        return self._store

    def queue(self, owner: str, body: object, *, header_key: str | None) -> QueueResult:
        """Validate and queue; ``header_key`` wins over a body ``idempotency_key`` (the
        caller has checked that they agree)."""
        request = validate_queue(
            body,
            now=self._clock(),
            campaign_window=lambda name: self._store.campaign_window(owner, name),
            default_region=self._default_region,
        )
        if header_key and request.idempotency_key and header_key != request.idempotency_key:
            raise ValidationFailed(
                "Two different idempotency keys were sent.",
                errors=[FieldError("idempotency_key", "differs from the Idempotency-Key header")],
            )
        key = header_key or request.idempotency_key
        if key is None:
            view = self._store.enqueue(owner, request, "qc_" + secrets.token_hex(12))
            self._wake()
            return QueueResult(202, json.dumps(view))
        scope = f"{owner}:{ROUTE}"
        queued_id = "qc_" + hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:24]
        claim = self._keys.claim(scope, key, fingerprint(request.canonical()), queued_id)
        if claim.kind == "replay":
            return QueueResult(claim.status_code or 202, claim.response or "{}", replayed=True)
        try:
            view = self._store.enqueue(owner, request, queued_id)  # once per id, even if re-run
        except Exception:
            self._keys.release(scope, key)  # nothing was queued: a retry may queue it
            raise
        body_text = json.dumps(view)
        self._keys.complete(scope, key, 202, body_text)
        self._wake()
        return QueueResult(202, body_text, replayed=claim.kind == "reconcile")

    def get(self, owner: str, queued_id: str) -> dict[str, Any] | None:
        return self._store.get(owner, queued_id)

    def page(self, owner: str, **filters: Any) -> Page:
        return self._store.page(owner, **filters)

    def cancel(self, owner: str, queued_id: str) -> dict[str, Any] | None:
        return self._store.cancel(owner, queued_id)

    def campaigns(self, owner: str, name: str | None = None) -> list[dict[str, Any]]:
        return self._store.campaigns(owner, name)

    def set_window(self, owner: str, name: str, value: object) -> dict[str, Any]:
        """Set (or with None clear) a campaign's default calling hours; ValidationFailed
        naming ``call_window`` for a bad one. Calls queued with their own window keep it."""
        shown = None if value is None else window_json(parse_window(value, field="call_window"))
        self._store.set_window(owner, name, shown)
        return self._store.campaigns(owner, name)[0]

    def pause(self, owner: str, name: str, paused: bool) -> dict[str, Any]:
        self._store.set_paused(owner, name, paused)
        if not paused:
            self._wake()
        return self._store.campaigns(owner, name)[0]
