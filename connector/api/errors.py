"""Every error leaves as RFC 9457 problem+json: ours, Retell's, and Flask's own 404/405/413.

Unexpected exceptions become a generic 500 problem without internals; they are logged with
their traceback (through the redacting handler).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

from connector.problems import (
    Problem,
    StoreUnavailable,
    problem_message,
    problem_type,
    upstream_problem,
)
from connector.retell.errors import RetellError

__all__ = ["init_app", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_HTTP_SLUGS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def problem_response(problem: Problem) -> Response:
    response = Response(json.dumps(problem.to_dict()), problem.status, mimetype=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


def _http_problem(exc: HTTPException) -> Response:
    status = exc.code or 500
    body: dict[str, Any] = {
        "type": problem_type(_HTTP_SLUGS.get(status, "http-error")),
        "title": exc.name,
        "status": status,
        "detail": exc.description or exc.name,
        "message": problem_message(exc.description or exc.name),
    }
    response = Response(json.dumps(body), status, mimetype=PROBLEM_JSON)
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return problem_response(exc)

    @app.errorhandler(RetellError)
    def _retell(exc: RetellError) -> Response:
        return problem_response(upstream_problem(exc))

    @app.errorhandler(DBAPIError)
    def _store(exc: DBAPIError) -> Response:
        # The database is down or overloaded: nothing was acknowledged, so the caller (Retell,
        # a platform) should retry, and a 503 tells it so.
        log.error("store unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        return problem_response(StoreUnavailable("The connector's store is unavailable; retry."))

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError) -> Response:
        original = getattr(exc, "original_exception", None)
        if original is not None:
            log.error("unhandled error", exc_info=original)
        generic = InternalServerError(description="The connector hit an unexpected error.")
        return _http_problem(generic)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return _http_problem(exc)
