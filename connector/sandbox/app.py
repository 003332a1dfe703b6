"""``create_sandbox_app``: the Retell simulator as its own small Flask app.

Every Retell request passes one gate, in this order: count it, add ``latency_ms``, apply an
injected fault if one matches, then check the bearer key. ``/_sandbox/*`` skips the gate.
"""

from __future__ import annotations

import hmac
import socket

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from connector import jsonprovider
from connector.sandbox import control, routes
from connector.sandbox.config import SandboxConfig
from connector.sandbox.errors import ApiError, error_body
from connector.sandbox.faults import Fault
from connector.sandbox.state import EXTENSION, Sandbox, current_sandbox

__all__ = ["CREATE_PATH", "create_sandbox_app"]

CREATE_PATH = "/v2/create-phone-call"


def _error(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A Retell-shaped error response."""
    response = jsonify(error_body(status, message))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _drop_connection() -> Response:
    """Close the socket under the request, so the client gets no response at all."""
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        sock.shutdown(socket.SHUT_RDWR)  # werkzeug then ignores the failed write
    return _error(500, "connection dropped (injected fault)")  # only the test client sees this


def _apply(fault: Fault) -> Response | None:
    """Act out an injected fault; None lets the request carry on (hang, acted)."""
    if fault.mode == "close":
        return _drop_connection()
    if fault.mode == "hang":
        g.hang_seconds = fault.seconds  # answered late by _linger, after the work is done
        return None
    if fault.mode == "acted":
        g.acted_fault = fault  # the work is done, then _linger answers the fault's status
        return None
    return _error(fault.status, fault.message, fault.headers())


def _gate() -> Response | None:
    """Count, delay, inject faults and authenticate every Retell request."""
    if request.path.startswith("/_sandbox/"):
        return None
    sandbox = current_sandbox()
    sandbox.stats.incr("requests")
    if request.method == "POST" and request.path == CREATE_PATH:
        sandbox.stats.incr("create_requests")
    config = sandbox.config
    if config.latency_ms:
        sandbox.sleep(config.latency_ms / 1000)
    fault = sandbox.faults.take(request.path)
    if fault is not None:
        sandbox.stats.incr("faults_injected")
        if (response := _apply(fault)) is not None:
            return response
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(key.encode(), config.api_key.encode()):
        return _error(401)
    return None


def _linger(response: Response) -> Response:
    """Hold back the answer of a request a hang fault picked; swap in an acted fault's."""
    seconds = g.pop("hang_seconds", None)
    if seconds:
        current_sandbox().sleep(seconds)
    acted: Fault | None = g.pop("acted_fault", None)
    if acted is not None:
        return _error(acted.status, acted.message, acted.headers())
    return response


def _api_error(exc: ApiError) -> Response:
    return _error(exc.status, exc.message)


def _http_error(exc: HTTPException) -> Response:
    return _error(exc.code or 500)  # Retell's own wording for every status


def create_sandbox_app(config: SandboxConfig | None = None) -> Flask:
    """A Flask app that answers like Retell's API for one simulated account.

    Its ``Sandbox`` (``connector.sandbox.sandbox_of(app)``) owns the clock and webhook
    threads; call its ``close()`` when done, or use ``SandboxServer`` which does.
    """
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep Retell's field order
    jsonprovider.install(app)  # bodies nested too deeply are a 400, not a RecursionError
    app.extensions[EXTENSION] = Sandbox(config or SandboxConfig())
    app.register_blueprint(routes.bp)
    app.register_blueprint(control.bp)
    app.before_request(_gate)
    app.after_request(_linger)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    return app
