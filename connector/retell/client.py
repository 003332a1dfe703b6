"""The Retell REST client: httpx with explicit timeouts, an injectable transport, safe retries.

Reads retry on transport errors, 5xx and 429. The create call never retries blindly: only
when Retell provably did not act (the connection was refused, or a 429). Every httpx
exception is mapped to ``connector.retell.errors`` here and nowhere else. The API key lives
in the client's default headers and is never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from connector.per_thread import pools_per_thread
from connector.retell import timing
from connector.retell.errors import (
    RetellConnectError,
    RetellConnectionLost,
    RetellError,
    RetellNotFound,
    RetellRateLimited,
    RetellServerError,
    RetellTimeout,
    RetellTransportError,
    status_error,
)
from connector.retell.retry import RetryPolicy
from connector.retry_after import retry_after_seconds
from connector.tls import verifying_context

__all__ = ["CONNECTOR_TAG", "RetellClient"]

log = logging.getLogger(__name__)

# The metadata key under which the connector tags each call it creates, so an ambiguous
# create can be reconciled by looking the call up instead of dialling again.
CONNECTOR_TAG = "retell_connector_request_id"
_TRANSIENT = (RetellRateLimited, RetellServerError, RetellTransportError)
_MAX_PAGES = 100
_PAGE_SIZE = 1000
_HOT_PATHS = ("/v2/create-phone-call", "/v3/list-calls")
# httpx's private ``Client._transport_for_url``: the transport (a proxy's, where the
# environment names one) ``Client.send`` itself would use for a URL. Private, so looked up by
# name; a future httpx without it gets the public ``Client.send`` instead.
_TRANSPORT_FOR_URL = "_transport_for_url"
_PER_THREAD = 2  # kept-alive connections to Retell per calling thread (it calls one at a time)


def _error_message(response: httpx.Response) -> str:
    """Retell's ``message``, else a short piece of the body, else the reason phrase."""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"])
    except ValueError:
        pass
    text = response.text.strip()[:200]
    return text or response.reason_phrase or f"HTTP {response.status_code}"


def _pool_per_thread(http: httpx.Client) -> None:
    """Give each calling thread a kept-alive connection pool of its own (``per_thread``)
    in place of the one ``http`` made for all. The client's own transport is swapped after
    it is built rather than passed in, because an ``httpx.Client`` given a transport no
    longer reads proxies from the environment; proxies it found keep their transports.
    An httpx without the private ``_transport`` keeps its one pool."""
    if not isinstance(getattr(http, "_transport", None), httpx.HTTPTransport):
        return
    http._transport.close()
    http._transport = pools_per_thread(_PER_THREAD)


class RetellClient:
    """One client per app, shared by all threads; each thread keeps its own connections."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "retell-connector"},
            timeout=httpx.Timeout(timeout, connect=5.0, pool=5.0),
            verify=verifying_context(),  # not a CA bundle loaded for a pool that is replaced
            limits=httpx.Limits(max_connections=128, max_keepalive_connections=64),  # proxies'
            transport=transport,
            follow_redirects=False,
        )
        if transport is None:
            _pool_per_thread(self._http)
        # Merging a relative path into the base URL costs httpx ~0.1 ms per request; the
        # fixed paths of a campaign's hot loop are merged once, exactly as httpx would.
        self._merged = {path: self._merge(path) for path in _HOT_PATHS}
        self._deliver = self._delivery()

    def _delivery(self) -> Callable[[httpx.Request], httpx.Response]:
        """How a built request reaches Retell, chosen once: straight to the transport the
        client would pick for the URL, body read (``Client.send`` adds only what Retell never
        uses: cookies, auth flows, redirects, none of them followed; about 90 µs of CPU per
        call), or ``Client.send`` itself where this httpx no longer has the private method
        (same outcome: body read, no redirect followed, environment proxies honoured)."""
        transport_for_url = getattr(self._http, _TRANSPORT_FOR_URL, None)
        if not callable(transport_for_url):
            log.info(
                "httpx %s has no Client.%s; using Client.send",
                httpx.__version__,
                _TRANSPORT_FOR_URL,
            )
            return self._http.send

        def deliver(request: httpx.Request) -> httpx.Response:
            response: httpx.Response = transport_for_url(request.url).handle_request(request)
            try:
                response.read()
            finally:
                response.close()
            return response

        return deliver

    def _merge(self, path: str) -> httpx.URL:
        base = self._http.base_url
        return base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode("ascii"))

    def close(self) -> None:
        self._http.close()

    # -- calls ---------------------------------------------------------------------------

    def create_phone_call(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/create-phone-call; retried only where Retell provably did not act."""
        return self._json("POST", "/v2/create-phone-call", json=body, idempotent=False)

    def get_call(self, call_id: str) -> dict[str, Any]:
        """GET /v2/get-call/{id}: the full call, with transcript."""
        return self._json("GET", f"/v2/get-call/{call_id}", idempotent=True)

    def list_calls(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v3/list-calls (a read, so safe to retry); items omit transcripts."""
        return self._json("POST", "/v3/list-calls", json=body, idempotent=True)

    def find_tagged_call(self, tag: str) -> dict[str, Any] | None:
        """The call this connector created under ``tag``, if Retell has one."""
        match = {"key": CONNECTOR_TAG, "type": "string", "op": "eq", "value": tag}
        criteria = {"metadata": [match]}
        page = self.list_calls({"filter_criteria": criteria, "limit": 1})
        items = page.get("items") or []
        return dict(items[0]) if items else None

    # -- options and identity -----------------------------------------------------------

    def list_phone_numbers(self) -> list[dict[str, Any]]:
        """Every phone number on the account (GET /v2/list-phone-numbers, all pages)."""
        return list(self._pages("GET", "/v2/list-phone-numbers"))

    def list_agents(self) -> list[dict[str, Any]]:
        """Every voice agent (POST /v2/list-agents, all pages)."""
        voice = {"filter_criteria": {"channel": {"type": "string", "op": "eq", "value": "voice"}}}
        return list(self._pages("POST", "/v2/list-agents", json=voice))

    def list_agent_versions(self, agent_id: str) -> list[dict[str, Any]]:
        """Every stored version of one agent (GET /list-agent-versions/{id}, all pages)."""
        return list(self._pages("GET", f"/list-agent-versions/{quote(agent_id, safe='')}"))

    def get_concurrency(self) -> dict[str, Any]:
        """GET /get-concurrency: the account's concurrency limit and calls ongoing now."""
        return self._json("GET", "/get-concurrency", idempotent=True)

    def whoami(self) -> dict[str, Any]:
        """Key identity (GET /get-api-key-info), or concurrency where that is not served."""
        try:
            return self._json("GET", "/get-api-key-info", idempotent=True)
        except RetellNotFound:
            return self._json("GET", "/get-concurrency", idempotent=True)

    # -- plumbing ----------------------------------------------------------------------

    def _pages(
        self, method: str, path: str, *, json: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"limit": _PAGE_SIZE}
        for _ in range(_MAX_PAGES):
            page = self._json(method, path, params=params, json=json, idempotent=True)
            yield from page.get("items") or []
            cursor = page.get("pagination_key")
            if not page.get("has_more") or not cursor:
                return
            params = {"limit": _PAGE_SIZE, "pagination_key": cursor}

    def _json(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self._send(method, path, idempotent=idempotent, json=json, params=params)
        try:
            body = response.json()
        except ValueError as exc:
            raise RetellServerError(response.status_code, "Retell sent a non-JSON body") from exc
        if not isinstance(body, dict):
            raise RetellServerError(response.status_code, "Retell sent an unexpected body")
        return body

    def _send(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> httpx.Response:
        started = self._retry.clock()
        retry = 0
        while True:
            retry += 1
            error = self._attempt(method, path, **kwargs)
            if isinstance(error, httpx.Response):
                return error
            transient = isinstance(error, _TRANSIENT)
            safe = transient and (idempotent or not error.maybe_acted)
            hint = error.retry_after if isinstance(error, RetellRateLimited) else None
            wait = self._retry.delay(retry, hint)
            budget = self._retry.total_seconds - (self._retry.clock() - started)
            if not safe or wait is None or wait > budget:
                raise error
            name = type(error).__name__
            log.info("retell %s %s: %s; retry %d in %.2fs", method, path, name, retry, wait)
            self._retry.sleep(wait)

    def _exchange(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request built by the client (its headers, timeouts, query), delivered as
        chosen at construction (see ``_delivery``), body read."""
        request = self._http.build_request(method, self._merged.get(path, path), **kwargs)
        return self._deliver(request)

    def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response | RetellError:
        """One request; a success response, or the mapped error (never raised from here)."""
        begun = time.perf_counter()
        try:
            response = self._exchange(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return RetellConnectError(f"could not connect to Retell ({type(exc).__name__})")
        except httpx.TimeoutException:
            return RetellTimeout("Retell did not answer in time")
        except httpx.TransportError as exc:
            return RetellConnectionLost(f"connection to Retell lost ({type(exc).__name__})")
        finally:
            elapsed_ms = (time.perf_counter() - begun) * 1000
            timing.add(elapsed_ms)
        log.debug("retell %s %s -> %d in %.1f ms", method, path, response.status_code, elapsed_ms)
        if response.is_success:
            return response
        return status_error(
            response.status_code,
            _error_message(response),
            retry_after=retry_after_seconds(response.headers),
        )
