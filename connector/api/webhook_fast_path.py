"""Retell's call events served beneath Flask: the request the connector gets most of.

Every call sends Retell's events three or four times over, and a campaign's calls all end
within minutes. Served through Flask, an event spent about a fifth of its CPU in Flask's
own request handling (the request context, URL matching, hooks, the response object):
more than checking its signature and parsing it together (``bench/README.md``, P1).

This WSGI middleware (installed on ``app.wsgi_app``, as werkzeug's ``ProxyFix`` is) serves
a signed call event with the code the Flask route runs, ``store_call_event``, and answers
the same 204. Anything else it hands to Flask with the body it read put back, so every
refusal is Flask's own problem+json and the two paths cannot answer differently: a body
without a length or over the limit, a bad signature, an inbound call. An error storing the
event (a malformed event, the store down) goes to Flask with the body, under
``STORE_FAILURE``: the route raises it for Flask's error handlers to answer (400, 503)
rather than storing the event a second time.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Response

from connector.api.inbound import answers_inbound
from connector.api.webhooks import STORE_FAILURE, store_call_event
from connector.limits import MAX_WEBHOOK_BYTES
from connector.metrics import REQUESTS
from connector.retell.signature import SignatureError, verify
from connector.services import Services

__all__ = ["PATH", "CallEventFastPath"]

PATH = "/v1/webhooks/retell"

Environ = dict[str, Any]
Wsgi = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]


class CallEventFastPath:
    """``POST /v1/webhooks/retell`` answered here when it is stored; otherwise by Flask."""

    def __init__(self, flask_app: Wsgi, svc: Services) -> None:
        self.flask_app = flask_app
        self._svc = svc
        self._key = svc.settings.retell_api_key.get_secret_value()
        self._observe = REQUESTS.labels(PATH, "204").observe  # as Flask's route is timed
        answered = Response(status=204)  # the route's answer, taken from Flask, not copied
        self._status, self._headers = answered.status, answered.headers.to_wsgi_list()

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") == PATH
            and environ.get("REQUEST_METHOD") == "POST"
            and not environ.get("QUERY_STRING")  # Flask checks parameters (NUL) first
            and self._stored(environ)
        ):
            start_response(self._status, list(self._headers))
            return []
        return self.flask_app(environ, start_response)

    def _stored(self, environ: Environ) -> bool:
        """Whether the event was verified and committed (or found a duplicate) here."""
        started = time.perf_counter()
        raw = _declared_body(environ)
        if raw is None:
            return False
        try:
            verify(raw, self._key, environ.get("HTTP_X_RETELL_SIGNATURE"))
        except SignatureError:
            return False
        if answers_inbound(raw):  # an inbound call sent to this URL: Flask answers it
            return False
        try:
            store_call_event(self._svc, raw)
        except Exception as exc:  # Flask's error handlers answer it (and log it)
            environ[STORE_FAILURE] = exc
            return False
        self._observe(time.perf_counter() - started)
        return True


def _declared_body(environ: Environ) -> bytes | None:
    """The body when its declared length is within the webhook limit, else None (unread).

    What is read is put back for Flask: a body without a length (chunked) or over the limit
    is left for Flask's ``read_body`` to read and refuse exactly as it always does."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if not (declared.isascii() and declared.isdigit()) or int(declared) > MAX_WEBHOOK_BYTES:
        return None
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None  # the length is not the body's (werkzeug ignores it too)
    raw: bytes = environ["wsgi.input"].read(int(declared))
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw if len(raw) == int(declared) else None
