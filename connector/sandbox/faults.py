"""Injected upstream failures, so a client's retry and reconciliation logic can be tested.

Four modes, each for the next ``count`` matching requests:

* ``status``: answer ``status`` with Retell's error body, before doing anything (nothing is
  created); 429 carries ``Retry-After`` (``retry_after`` seconds, default 1).
* ``hang``: handle the request normally (a create DOES place the call), then wait
  ``seconds`` before answering: the ambiguous "timed out, but did it happen?" case.
* ``close``: drop the connection without answering, before doing anything.
* ``acted``: handle the request normally (a create DOES place the call), then answer
  ``status`` with Retell's error body instead of the result: a gateway that gave up on a
  request the service went on to finish (408, 504), or a conflict found too late (409).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from connector.sandbox.errors import ApiError

__all__ = ["MODES", "Fault", "FaultQueue", "parse_faults"]

MODES = ("status", "hang", "close", "acted")


@dataclass(frozen=True)
class Fault:
    """One injected failure; ``path`` None matches every Retell endpoint."""

    mode: str = "status"
    status: int = 500
    path: str | None = None
    retry_after: float | None = None
    seconds: float = 30.0
    message: str | None = None

    def matches(self, path: str) -> bool:
        """Exact path or a path below it (``/v2/get-call`` matches every get-call)."""
        return (
            self.path is None or path == self.path or path.startswith(self.path.rstrip("/") + "/")
        )

    def headers(self) -> dict[str, str]:
        """``Retry-After`` for 429 (default 1 s) or whenever ``retry_after`` is given."""
        seconds = self.retry_after
        if seconds is None and self.status == 429:
            seconds = 1
        return {} if seconds is None else {"Retry-After": f"{seconds:g}"}


class FaultQueue:
    """Faults waiting for their requests, first queued first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault, count: int) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    def take(self, path: str) -> Fault | None:
        """Remove and return the first fault matching ``path``."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(path):
                    return self._faults.pop(index)
            return None

    def clear(self) -> int:
        """Drop every pending fault; return how many there were."""
        with self._lock:
            count, self._faults = len(self._faults), []
            return count

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]


def _number(body: dict[str, Any], name: str, default: float | None) -> Any:
    value = body.get(name, default)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if value is not None and (not number or value < 0):
        raise ApiError.bad_request(f"{name} must be a non-negative number.")
    return value


def parse_faults(body: Any) -> tuple[Fault, int]:
    """The fault and repeat count described by a ``POST /_sandbox/faults`` body."""
    if not isinstance(body, dict):
        raise ApiError.bad_request('Send a JSON object like {"status": 500, "count": 1}.')
    mode, status, count = body.get("mode", "status"), body.get("status", 500), body.get("count", 1)
    path, message = body.get("path"), body.get("message")
    if mode not in MODES:
        raise ApiError.bad_request(f"mode must be one of {', '.join(MODES)}.")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ApiError.bad_request("status must be an HTTP error status (400-599).")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise ApiError.bad_request("count must be an integer from 1 to 10000.")
    if not (path is None or (isinstance(path, str) and path.startswith("/"))):
        raise ApiError.bad_request("path must start with '/'.")
    if not (message is None or isinstance(message, str)):
        raise ApiError.bad_request("message must be a string.")
    seconds = _number(body, "seconds", 30.0)
    fault = Fault(mode, status, path, _number(body, "retry_after", None), seconds, message)
    return fault, count
