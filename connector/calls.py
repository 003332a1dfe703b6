"""The Create Phone Call and Get Call capabilities: validation done, never dial twice.

Flow for a create with an idempotency key (DESIGN §4): claim the key; a stored response
is replayed; a fresh claim sends the call to Retell tagged with a key derived from ours
(passed as Retell's ``idempotency_key`` and in ``metadata``); a claim left ``unknown`` by an
ambiguous failure is reconciled by looking the tagged call up, and re-sent with the same
Retell key only inside Retell's one-hour idempotency window.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.problems import CallOutcomeUnknown, NotFound, upstream_problem
from connector.retell.client import CONNECTOR_TAG, RetellClient
from connector.retell.errors import RetellError, RetellUnprocessable
from connector.store.idempotency import Claim, IdempotencyStore

__all__ = ["CallService", "CreateResult", "fingerprint"]

RETELL_KEY_WINDOW_SECONDS = 3600.0
# Stay clear of the end of Retell's window: a resend near its edge could dial again.
_WINDOW_MARGIN_SECONDS = 300.0


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the validated request."""
    return hashlib.sha256(canonical_json(request).encode()).hexdigest()


@dataclass(frozen=True)
class CreateResult:
    """The response to send: Retell's call object as JSON text, and whether it is a replay."""

    status: int
    body: str
    replayed: bool = False


class CallService:
    """Places and looks up calls through Retell, guarded by the idempotency store."""

    def __init__(
        self,
        client: RetellClient,
        keys: IdempotencyStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock

    def create(self, request: dict[str, Any], *, scope: str, key: str | None) -> CreateResult:
        """Create the call at most once per (scope, key)."""
        if key is None:
            return self._send_untracked(request)
        upstream_key = "rc-" + hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:40]
        claim = self._keys.claim(scope, key, fingerprint(request), upstream_key)
        if claim.kind == "replay":
            return CreateResult(claim.status_code or 201, claim.response or "{}", replayed=True)
        if claim.kind == "reconcile":
            return self._reconcile(request, scope, key, claim)
        return self._send(request, scope, key, upstream_key, stamped=True)

    def get(self, call_id: str) -> dict[str, Any]:
        """The full call object; Retell's "cannot find" 422 becomes a 404."""
        try:
            return self._client.get_call(call_id)
        except RetellUnprocessable as exc:
            raise NotFound(f"No call with id {call_id!r}: Retell said: {exc.message}") from exc

    def _send(
        self,
        request: dict[str, Any],
        scope: str,
        key: str,
        upstream_key: str,
        *,
        stamped: bool = False,
    ) -> CreateResult:
        if not stamped:  # a reconciling resend: start Retell's one-hour window if unstarted
            self._keys.mark_sent(scope, key)
        try:
            call = self._client.create_phone_call(_tagged(request, upstream_key))
        except RetellError as exc:
            if exc.maybe_acted:
                self._keys.mark_unknown(scope, key)
                raise _outcome_unknown(exc, retry_hint=True) from exc
            self._keys.release(scope, key)
            raise upstream_problem(exc) from exc
        body = json.dumps(call)
        self._keys.complete(scope, key, 201, body)
        return CreateResult(201, body)

    def _send_untracked(self, request: dict[str, Any]) -> CreateResult:
        try:
            call = self._client.create_phone_call(_tagged(request, "rc-" + uuid.uuid4().hex))
        except RetellError as exc:
            if exc.maybe_acted:
                raise _outcome_unknown(exc, retry_hint=False) from exc
            raise upstream_problem(exc) from exc
        return CreateResult(201, json.dumps(call))

    def _reconcile(
        self, request: dict[str, Any], scope: str, key: str, claim: Claim
    ) -> CreateResult:
        try:
            found = self._client.find_tagged_call(claim.upstream_key)
        except RetellError as exc:
            self._keys.mark_unknown(scope, key)
            raise CallOutcomeUnknown(
                "An earlier attempt with this key may have placed the call, and Retell could "
                f"not be asked right now ({exc.message}).",
                advice="Retry later with the same key.",
                retry_safe=True,
            ) from exc
        if found is not None:
            body = json.dumps(self._full_call(found))
            self._keys.complete(scope, key, 201, body)
            return CreateResult(201, body, replayed=True)
        if claim.sent_at is None or self._inside_retell_window(claim.sent_at):
            return self._send(request, scope, key, claim.upstream_key)
        self._keys.mark_unknown(scope, key)
        raise CallOutcomeUnknown(
            "An earlier attempt with this key failed ambiguously and no call was found for it; "
            "Retell's one-hour idempotency window has passed, so the connector will not dial "
            "again with this key.",
            advice="To place the call, send it with a new Idempotency-Key.",
            retry_safe=False,
        )

    def _full_call(self, listed: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._client.get_call(str(listed["call_id"]))
        except (RetellError, KeyError):
            return listed

    def _inside_retell_window(self, sent_at: float) -> bool:
        return self._clock() - sent_at < RETELL_KEY_WINDOW_SECONDS - _WINDOW_MARGIN_SECONDS


def _tagged(request: dict[str, Any], upstream_key: str) -> dict[str, Any]:
    metadata = {**(request.get("metadata") or {}), CONNECTOR_TAG: upstream_key}
    return {**request, "metadata": metadata, "idempotency_key": upstream_key}


def _outcome_unknown(exc: RetellError, *, retry_hint: bool) -> CallOutcomeUnknown:
    advice = (
        "Retrying with the same Idempotency-Key is safe: the connector will look the call up "
        "instead of dialling again."
        if retry_hint
        else "No Idempotency-Key was sent, so a retry could dial twice; check the call list "
        "before retrying, and send an Idempotency-Key next time."
    )
    return CallOutcomeUnknown(
        f"The call request reached Retell but no call came back ({exc.message}); the call "
        "may or may not have been placed.",
        advice=advice,
        retry_safe=retry_hint,
    )
