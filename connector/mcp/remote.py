"""A tool call as the connector's own HTTP request, and its answer as a tool result.

``ConnectorApi`` speaks the connector's public API with one bearer token, over any httpx
transport: the network for ``retell-connector mcp``, the app itself (``httpx.WSGITransport``)
for ``/mcp``. So a tool gets exactly what the action gives a platform: the same validation
with per-field problems, the same idempotency store (``Idempotency-Key``), the same tenancy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from connector.mcp.catalog import Catalog, ToolSpec, build_catalog
from connector.mcp.summary import summarize
from connector.problems import CallOutcomeUnknown, FieldError, Problem, ValidationFailed

__all__ = [
    "ConnectorApi",
    "ConnectorUnreachable",
    "ToolAnswer",
    "remote_catalog",
    "run_tool",
]

TIMEOUT_SECONDS = 90.0  # a create waits for Retell (30 s) and may reconcile once
_SCHEMA_NAME = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*\.json")


class ConnectorUnreachable(Problem):
    """The connector did not answer, or answered without a problem description."""

    status, slug, title = 502, "connector-unreachable", "Connector unreachable"


class ConnectorApi:
    """The connector's public API, as one token sees it."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = None if body is None else json.dumps(body).encode()
        if content is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        query = httpx.QueryParams(tuple(params or ()))
        return self._http.request(method, path, params=query, content=content, headers=headers)

    def get_json(self, path: str) -> Any:
        """GET ``path``; its JSON, or ConnectorUnreachable saying what came back instead."""
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:
            raise ConnectorUnreachable(f"{self.base_url} did not answer ({exc!r}).") from None
        if response.status_code != 200:
            raise ConnectorUnreachable(
                f"{self.base_url}{path} answered HTTP {response.status_code}."
            )
        try:
            return response.json()
        except ValueError:
            raise ConnectorUnreachable(f"{self.base_url}{path} did not answer JSON.") from None

    def close(self) -> None:
        self._http.close()


def remote_catalog(api: ConnectorApi) -> Catalog:
    """The tools of the connector behind ``api``, from its own manifest and schemas."""
    cache: dict[str, dict[str, Any]] = {}

    def load(name: str) -> dict[str, Any]:
        if not _SCHEMA_NAME.fullmatch(name):
            raise LookupError(f"not a schema name: {name!r}")
        if name not in cache:
            cache[name] = api.get_json(f"/schemas/{name}")
        return cache[name]

    manifest = api.get_json("/manifest.json")
    return build_catalog(manifest, load)


@dataclass(frozen=True)
class ToolAnswer:
    """What a tool call came to: the JSON (an object) and the paragraphs for the assistant."""

    structured: dict[str, Any]
    text: list[str]
    is_error: bool = False

    ADVICE: ClassVar[str] = (
        "Call {tool} again with {field}={key!r}: the connector then returns the first "
        "result (or looks the call up) instead of calling twice."
    )


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    params: list[tuple[str, str]] | None
    body: dict[str, Any] | None
    headers: dict[str, str]
    key: str | None  # the idempotency key this request carries, if any


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _prepare(
    spec: ToolSpec, arguments: dict[str, Any], derive: Callable[[], str | None]
) -> _Request:
    """The HTTP request for one tool call; a ValidationFailed for what cannot be sent."""
    rest = dict(arguments)
    path = spec.path
    for name in spec.path_names:
        value = rest.pop(name, None)
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            raise ValidationFailed(
                f"{name} is required.", errors=[FieldError(name, "is required (text)")]
            )
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    headers: dict[str, str] = {}
    key: str | None = None
    if spec.idempotency_field and spec.idempotency_header:
        given = rest.get(spec.idempotency_field)
        if given in (None, ""):
            rest.pop(spec.idempotency_field, None)
            key = derive()
            if key is None:
                raise ValidationFailed(
                    "Nothing was sent: this connection cannot tell a retry from a new request.",
                    errors=[
                        FieldError(
                            spec.idempotency_field,
                            "is required on this connection: use a value unique to this call, "
                            "such as the record's ID and the date, and send the same value if "
                            "you try again",
                        )
                    ],
                )
            headers[spec.idempotency_header] = key
        elif isinstance(given, str):
            key = given
    for name, value in spec.defaults.items():
        rest.setdefault(name, value)
    if spec.method in ("GET", "DELETE"):
        params: list[tuple[str, str]] = []
        for name, value in rest.items():
            values = value if isinstance(value, list) else [value]
            params.extend((name, _query_value(v)) for v in values if v is not None)
        return _Request(spec.method, path, params, None, headers, key)
    return _Request(spec.method, path, None, rest, headers, key)


def _problem_text(problem: dict[str, Any]) -> str:
    """The problem in one paragraph: its message, which names every invalid field."""
    message = problem.get("message") or problem.get("detail") or problem.get("title")
    return str(message or "The connector refused the request.")


def _error(spec: ToolSpec, problem: dict[str, Any], key: str | None, derived: bool) -> ToolAnswer:
    text = [_problem_text(problem)]
    # The first request may still be running (409) or have placed the call (retry_safe).
    in_doubt = problem.get("status") == 409 or problem.get("retry_safe") is True
    if derived and key and in_doubt and spec.idempotency_field:
        text.append(ToolAnswer.ADVICE.format(tool=spec.name, field=spec.idempotency_field, key=key))
    return ToolAnswer(problem, text, is_error=True)


def run_tool(
    api: ConnectorApi,
    spec: ToolSpec,
    arguments: dict[str, Any],
    derive: Callable[[], str | None],
) -> ToolAnswer:
    """Carry out one tool call through the connector's API (blocking)."""
    try:
        request = _prepare(spec, arguments, derive)
    except ValidationFailed as exc:
        return ToolAnswer(exc.to_dict(), [exc.message], is_error=True)
    derived = spec.idempotency_header in request.headers if spec.idempotency_header else False
    try:
        response = api.send(
            request.method,
            request.path,
            params=request.params,
            body=request.body,
            headers=request.headers,
        )
    except httpx.HTTPError as exc:
        return _error(spec, _unanswered(spec, api, exc, request), request.key, derived)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and body is not None:
        structured = body if isinstance(body, dict) else {"items": body}
        text = [
            summarize(spec.output, spec.title, body),
            json.dumps(structured, ensure_ascii=False),
        ]
        return ToolAnswer(structured, text)
    if not isinstance(body, dict) or "status" not in body:
        body = ConnectorUnreachable(
            f"The connector answered HTTP {response.status_code} without a problem description."
        ).to_dict()
    return _error(spec, body, request.key, derived)


def _unanswered(
    spec: ToolSpec, api: ConnectorApi, exc: httpx.HTTPError, request: _Request
) -> dict[str, Any]:
    """The problem for a request that got no answer: for a keyed create, the outcome is unknown."""
    where = f"The connector at {api.base_url} did not answer ({type(exc).__name__})."
    sent = not isinstance(exc, httpx.ConnectError)  # refused before anything was sent
    if request.key is not None and sent and spec.method not in ("GET", "HEAD"):
        return CallOutcomeUnknown(
            f"{where} The request may have been carried out.",
            advice=f"Repeat it with the same {spec.idempotency_field}.",
            retry_safe=True,
        ).to_dict()
    return ConnectorUnreachable(where).to_dict()
