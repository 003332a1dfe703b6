"""One delivery attempt over HTTP: sign, POST, classify, never follow a redirect.

The transport is the SSRF-guarded one, so the address checked is the address dialled.
Response bodies are kept only as a short excerpt for the delivery log.
"""

from __future__ import annotations

import time

import httpx

from connector.delivery.signing import signed_headers
from connector.delivery.ssrf import TargetRefused
from connector.retry_after import retry_after_seconds
from connector.store.outbox import Job, Outcome

__all__ = ["RESPONSE_EXCERPT_BYTES", "Sender"]

RESPONSE_EXCERPT_BYTES = 1024
DELIVERY_TIMEOUT_SECONDS = 15.0


class Sender:
    """Sends jobs with one pooled client (keep-alive to each subscriber)."""

    def __init__(
        self, transport: httpx.BaseTransport, *, timeout: float = DELIVERY_TIMEOUT_SECONDS
    ):
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self._http.close()

    def send(self, job: Job) -> Outcome:
        started = time.perf_counter()
        headers = signed_headers(job.secret, job.event_id, job.body, now=time.time())
        try:
            response = self._http.post(job.target_url, content=job.body.encode(), headers=headers)
        except TargetRefused as exc:
            return Outcome(None, _ms(started), error=f"refused: {exc}")
        except httpx.TimeoutException:
            return Outcome(None, _ms(started), error="timed out")
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, TargetRefused):
                return Outcome(None, _ms(started), error=f"refused: {cause}")
            return Outcome(None, _ms(started), error=f"{type(exc).__name__}: {exc}"[:300])
        excerpt = response.content[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")
        error = None
        if response.is_redirect:
            error = f"redirect to {response.headers.get('location', '?')} not followed"
        elif not response.is_success:
            error = f"HTTP {response.status_code}"
        return Outcome(
            response.status_code,
            _ms(started),
            error=error,
            response_body=excerpt,
            retry_after=retry_after_seconds(response.headers),
        )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
