"""The sizes a client request may have: one place for the server, the API and the OpenAPI
document, so what is enforced is what is described.

The body limits are the connector's own (``connector.api.body``); the request line and
header limits are gunicorn's defaults, set explicitly by ``connector.server`` so a gunicorn
upgrade cannot change them unnoticed.
"""

from __future__ import annotations

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_REQUEST_LINE_BYTES",
    "MAX_WEBHOOK_BYTES",
]

MAX_REQUEST_BYTES = 1024 * 1024
"""A JSON request body, however it is framed (Content-Length or chunked)."""

MAX_WEBHOOK_BYTES = 256 * 1024
"""A Retell webhook body (DESIGN §5)."""

MAX_REQUEST_LINE_BYTES = 4094
"""Method, path and query string together (over it: 414)."""

MAX_HEADER_BYTES = 8190
"""One header line, name and value (over it: 431)."""

MAX_HEADERS = 100
"""Headers in one request (over it: 431)."""
