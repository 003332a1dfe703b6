"""What can go wrong talking to Retell, as one small tree mapped from httpx at one boundary.

    RetellError
    ├── RetellStatusError        Retell answered with an error status (message kept)
    │   ├── RetellAuthError          401/403
    │   ├── RetellPaymentError       402
    │   ├── RetellBadRequest         400
    │   ├── RetellUnprocessable      422 (Retell also uses it for "not found")
    │   ├── RetellNotFound           404
    │   ├── RetellRateLimited        429 (retry_after seconds, if sent)
    │   └── RetellServerError        5xx — Retell may have acted
    │       ├── RetellRequestTimeout     408 — gave up on the request, perhaps after acting
    │       └── RetellConflict           409 — busy with the same idempotency key
    └── RetellTransportError     no usable answer
        ├── RetellConnectError       never reached Retell — provably did not act
        ├── RetellTimeout            no answer in time after the request went out
        └── RetellConnectionLost     connection dropped after the request went out

``maybe_acted`` is the one question the create-call path asks: may a call exist now?

408 and 409 are grouped with the 5xx family because they mean the same to a caller: the
SDKs retry both, so a read may be retried; for a create they are an ambiguous outcome. A 408
can come from a gateway that gave up while Retell went on to place the call, and a 409 on
create means another request with the same ``idempotency_key`` (an earlier attempt still in
flight) is being processed and may place it. Neither proves that nothing was done, so the
create path reconciles (looks the tagged call up) instead of dialling again.
"""

from __future__ import annotations

__all__ = [
    "RetellAuthError",
    "RetellBadRequest",
    "RetellConflict",
    "RetellConnectError",
    "RetellConnectionLost",
    "RetellError",
    "RetellNotFound",
    "RetellPaymentError",
    "RetellRateLimited",
    "RetellRequestTimeout",
    "RetellServerError",
    "RetellStatusError",
    "RetellTimeout",
    "RetellTransportError",
    "RetellUnprocessable",
    "status_error",
]


class RetellError(Exception):
    """Base of every Retell failure."""

    maybe_acted = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RetellStatusError(RetellError):
    """Retell answered with a non-success status."""

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RetellAuthError(RetellStatusError):
    """The API key is missing, invalid or not allowed (401/403)."""


class RetellPaymentError(RetellStatusError):
    """Trial ended or no payment method (402)."""


class RetellBadRequest(RetellStatusError):
    """Retell refused the request format (400), e.g. a do-not-call contact."""


class RetellUnprocessable(RetellStatusError):
    """Retell's 422: invalid values, or an id it cannot find."""


class RetellNotFound(RetellStatusError):
    """A 404 from Retell."""


class RetellRateLimited(RetellStatusError):
    """429: Retell did not act; retry after ``retry_after`` seconds."""


class RetellServerError(RetellStatusError):
    """5xx: Retell failed somewhere, possibly after acting."""

    maybe_acted = True


class RetellRequestTimeout(RetellServerError):
    """408: Retell (or its gateway) gave up on the request; it may have acted."""


class RetellConflict(RetellServerError):
    """409: a request with the same idempotency key is still being processed."""


class RetellTransportError(RetellError):
    """No usable HTTP answer came back."""


class RetellConnectError(RetellTransportError):
    """The request never reached Retell (refused, DNS, TLS, pool exhausted)."""


class RetellTimeout(RetellTransportError):
    """Retell did not answer in time after the request went out: it may have acted."""

    maybe_acted = True


class RetellConnectionLost(RetellTransportError):
    """The connection broke after the request went out: Retell may have acted."""

    maybe_acted = True


_BY_STATUS: dict[int, type[RetellStatusError]] = {
    400: RetellBadRequest,
    401: RetellAuthError,
    402: RetellPaymentError,
    403: RetellAuthError,
    404: RetellNotFound,
    408: RetellRequestTimeout,
    409: RetellConflict,
    422: RetellUnprocessable,
    429: RetellRateLimited,
}


def status_error(status: int, message: str, *, retry_after: float | None) -> RetellStatusError:
    """The exception for an error status, falling back to the nearest family."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = RetellServerError if status >= 500 else RetellBadRequest
    return cls(status, message, retry_after=retry_after)
