"""The gunicorn worker ``serve`` runs: gthread, with gunicorn's own error pages as problem+json.

Some requests never reach the app: a request line or a header over gunicorn's limits, a
malformed request line, a bad chunk size. Gunicorn answers those itself (414, 431, 400 ...)
with an HTML page, where every other error of the connector is RFC 9457 problem+json. The
worker keeps gunicorn's handling (which error gets which status, its logging) and replaces
only what is written: gunicorn's status line stays, the body becomes a problem.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from connector.limits import MAX_HEADER_BYTES, MAX_HEADERS, MAX_REQUEST_LINE_BYTES
from connector.problems import FieldError, Problem, problem_type

__all__ = ["ProblemWorker", "ServerProblem", "problem_page"]

_SLUGS = {
    400: "bad-request",
    403: "forbidden",
    414: "uri-too-long",
    417: "expectation-failed",
    431: "header-too-large",
    500: "internal-error",
    501: "not-implemented",
}


class ServerProblem(Problem):
    """A request gunicorn refused before the app saw it, with gunicorn's status and title."""

    def __init__(self, status: int, title: str, exc: BaseException) -> None:
        errors: list[FieldError] = []
        if isinstance(exc, LimitRequestLine):
            limit = f"{MAX_REQUEST_LINE_BYTES:,}"
            detail = f"The URL is too long: the request line may be at most {limit} bytes."
            errors = [FieldError("url", f"must fit a request line of {limit} bytes")]
        elif isinstance(exc, LimitRequestHeaders):
            size, count = f"{MAX_HEADER_BYTES:,}", MAX_HEADERS
            detail = (
                f"A request header is too large: each may be at most {size} bytes (name and "
                f"value), and a request may carry at most {count} headers."
            )
            errors = [FieldError("headers", f"each must be at most {size} bytes, {count} at most")]
        elif status >= 500:
            detail = "The server hit an unexpected error."
        else:
            detail = f"The server could not read the request ({exc})."
        super().__init__(detail, errors=errors)
        self.http_status, self.http_title = status, title

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["type"] = problem_type(_SLUGS.get(self.http_status, "http-error"))
        body["title"], body["status"] = self.http_title, self.http_status
        return body


def problem_page(page: bytes, exc: BaseException) -> bytes:
    """Gunicorn's error ``page`` (status line, headers, HTML) rewritten as problem+json with
    the same status; anything that does not start with a status line is left as it is."""
    status_line = page.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, title = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        return page
    body = json.dumps(ServerProblem(int(code), title, exc).to_dict()).encode()
    head = (
        f"{status_line}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class _ProblemSocket:
    """The client socket while gunicorn writes an error page: the page is rewritten on its
    way out; everything else goes to the real socket."""

    def __init__(self, sock: socket.socket, exc: BaseException) -> None:
        self._sock = sock
        self._exc = exc

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(problem_page(data, self._exc))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ProblemWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, answering its own errors in problem+json."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        super().handle_error(req, _ProblemSocket(client, exc), addr, exc)
