"""RFC 9457 problem details as exceptions: every error the connector answers with.

Raise a ``Problem`` anywhere below the Flask layer; ``connector.api.errors`` renders it as
``application/problem+json`` in one place. The tree::

    Problem
    ├── ValidationFailed        422  bad input, with errors=[{path, message}]
    ├── MalformedBody           400  the body is not JSON
    ├── Unauthenticated         401  missing or unknown bearer token
    ├── NotFound                404
    ├── IdempotencyConflict     409  same key, first request still in flight
    ├── IdempotencyKeyReused    422  same key, different body
    ├── PayloadTooLarge         413
    ├── InvalidSignature        401  a Retell webhook failed its signature check
    ├── ReplayConflict          409  a delivery that cannot be replayed now
    ├── NotReady                503  store or delivery worker unavailable (readiness)
    ├── StoreUnavailable        503  the database is down; retry
    └── UpstreamProblem              Retell answered with an error or not at all
        ├── RetellAuthFailed        502  Retell rejected the server's API key
        ├── RetellPaymentRequired   402
        ├── RetellRejected          422  Retell refused the request (400/422)
        ├── RetellRateLimited       429  with Retry-After
        ├── RetellUnavailable       502  5xx or unreachable
        ├── RetellTimeout           504
        └── CallOutcomeUnknown      502  the create call may or may not have been placed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from connector.retell import errors as retell_errors
from connector.retell.errors import RetellError

__all__ = [
    "NUL_MESSAGE",
    "CallOutcomeUnknown",
    "FieldError",
    "IdempotencyConflict",
    "IdempotencyKeyReused",
    "InvalidSignature",
    "MalformedBody",
    "NotFound",
    "NotReady",
    "PayloadTooLarge",
    "Problem",
    "ReplayConflict",
    "RetellAuthFailed",
    "RetellPaymentRequired",
    "RetellRateLimited",
    "RetellRejected",
    "RetellTimeout",
    "RetellUnavailable",
    "StoreUnavailable",
    "Unauthenticated",
    "UpstreamProblem",
    "ValidationFailed",
    "nul_errors",
    "problem_message",
    "problem_type",
    "upstream_problem",
]

TYPE_BASE = "https://retell-connector.dev/problems/"


def problem_type(slug: str) -> str:
    """The ``type`` URI of a problem slug (documented in the README's error table)."""
    return TYPE_BASE + slug


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``path`` is a JSON-pointer-ish dotted path such as ``to_number``."""

    path: str
    message: str


NUL_MESSAGE = "must not contain NUL characters"


def nul_errors(fields: dict[str, object]) -> list[FieldError]:
    """A ``FieldError`` for each text field holding a NUL: PostgreSQL text cannot store one,
    so such a value must be refused as bad input rather than fail in the store."""
    return [
        FieldError(path, NUL_MESSAGE)
        for path, value in fields.items()
        if isinstance(value, str) and "\x00" in value
    ]


class Problem(Exception):
    """Base of every error the connector answers with."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        message: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.message = message or problem_message(detail, self.errors)
        self.extensions = extensions

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "message": self.message,
        }
        if self.errors:
            body["errors"] = [{"path": e.path, "message": e.message} for e in self.errors]
        body.update(self.extensions)
        return body


def problem_message(detail: str, errors: list[FieldError] | None = None) -> str:
    """The ``message`` extension: the whole problem in one line, field errors included.

    Many clients show only a ``message`` member (n8n's error mapping, Azure-style readers,
    plain HTTP tools); RFC 9457 allows extension members, so every problem carries one.
    """
    fields = "; ".join(f"{e.path} {e.message}" for e in errors or [])
    if not fields:
        return detail
    return f"{detail.rstrip()} {fields}."


class ValidationFailed(Problem):
    """The request body or query failed validation; nothing was sent upstream."""

    status, slug, title = 422, "validation-error", "Invalid request"


class MalformedBody(Problem):
    """The request body is not parseable JSON."""

    status, slug, title = 400, "malformed-json", "Malformed JSON body"


class Unauthenticated(Problem):
    """No bearer token, or one the connector does not know."""

    status, slug, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="retell-connector"'})


class NotFound(Problem):
    """The addressed resource does not exist."""

    status, slug, title = 404, "not-found", "Not found"


class PayloadTooLarge(Problem):
    """The request body is over the limit for this endpoint."""

    status, slug, title = 413, "payload-too-large", "Payload too large"


class InvalidSignature(Problem):
    """A Retell webhook whose x-retell-signature is missing, stale or does not match."""

    status, slug, title = 401, "invalid-signature", "Invalid webhook signature"


class ReplayConflict(Problem):
    """The delivery is still queued, or its subscription is gone."""

    status, slug, title = 409, "replay-conflict", "Delivery cannot be replayed now"


class NotReady(Problem):
    """A dependency the connector needs (store, delivery worker) is not available."""

    status, slug, title = 503, "not-ready", "Not ready"


class StoreUnavailable(Problem):
    """The database could not be reached; nothing was changed or acknowledged."""

    status, slug, title = 503, "store-unavailable", "Store unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class IdempotencyConflict(Problem):
    """A request with this idempotency key is still being processed."""

    status, slug, title = 409, "idempotency-in-flight", "Request with this key in progress"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class IdempotencyKeyReused(Problem):
    """The idempotency key was used before with a different body."""

    status, slug, title = 422, "idempotency-key-reused", "Idempotency key reused"


class UpstreamProblem(Problem):
    """Retell answered with an error, or could not be reached; keeps Retell's message."""

    status, slug, title = 502, "retell-error", "Retell API error"


class RetellAuthFailed(UpstreamProblem):
    """Retell rejected the connector's API key (a server configuration problem)."""

    status, slug, title = 502, "retell-unauthorized", "Retell rejected the API key"


class RetellPaymentRequired(UpstreamProblem):
    """Retell's account has no valid payment method (trial ended)."""

    status, slug, title = 402, "retell-payment-required", "Retell account needs payment"


class RetellRejected(UpstreamProblem):
    """Retell refused the request as invalid (its 400 or 422)."""

    status, slug, title = 422, "retell-rejected", "Retell rejected the request"


class RetellRateLimited(UpstreamProblem):
    """Retell is rate limiting this account; retry after the given delay."""

    status, slug, title = 429, "retell-rate-limited", "Retell rate limit reached"


class RetellUnavailable(UpstreamProblem):
    """Retell answered 5xx or could not be reached."""

    status, slug, title = 502, "retell-unavailable", "Retell unavailable"


class RetellTimeout(UpstreamProblem):
    """Retell did not answer in time."""

    status, slug, title = 504, "retell-timeout", "Retell timed out"


class CallOutcomeUnknown(UpstreamProblem):
    """The create request reached Retell but no answer came back: the call may exist.

    ``cause`` says what is known; the advice differs by reader, so it is kept apart:
    ``detail`` advises API clients (Idempotency-Key), ``message`` says it in any platform's
    terms, and the members ``cause`` and ``retry_safe`` (whether repeating the same request
    looks the call up rather than dialling) let an export word the advice its own way
    ("replay this run" in Zapier, "retry the step" in n8n).
    """

    status, slug, title = 502, "call-outcome-unknown", "Call outcome unknown"

    def __init__(self, cause: str, *, advice: str, retry_safe: bool) -> None:
        say = (
            "Retrying this step with the same input is safe: the connector looks the call up "
            "instead of calling again."
            if retry_safe
            else "Check the call list in Retell before placing the call again."
        )
        super().__init__(
            f"{cause} {advice}",
            message=f"{cause} {say}",
            cause=cause,
            retry_safe=retry_safe,
        )


def upstream_problem(exc: RetellError) -> UpstreamProblem:
    """The problem a platform sees for a Retell failure, keeping Retell's own message."""
    detail = f"Retell said: {exc.message}"
    if isinstance(exc, retell_errors.RetellAuthError):
        return RetellAuthFailed(
            f"{detail}. The connector's RETELL_API_KEY is missing, invalid or revoked.",
            retell_status=exc.status,
        )
    if isinstance(exc, retell_errors.RetellPaymentError):
        return RetellPaymentRequired(detail, retell_status=exc.status)
    if isinstance(exc, retell_errors.RetellRateLimited):
        retry_after = max(1, round(exc.retry_after or 1))
        return RetellRateLimited(
            detail, headers={"Retry-After": str(retry_after)}, retell_status=exc.status
        )
    if isinstance(exc, retell_errors.RetellServerError):
        return RetellUnavailable(detail, retell_status=exc.status)
    if isinstance(exc, retell_errors.RetellStatusError):
        return RetellRejected(detail, retell_status=exc.status)
    if isinstance(exc, retell_errors.RetellTimeout):
        return RetellTimeout(f"Retell did not answer in time ({exc.message}).")
    return RetellUnavailable(f"Retell could not be reached ({exc.message}).")
