"""Reading a request body: bounded whatever its framing, then parsed as JSON with a clear
problem for anything that is not JSON.

A size limit must hold for chunked bodies too. Werkzeug enforces ``MAX_CONTENT_LENGTH``
on a ``Content-Length`` up front, but a chunked body has none: it wraps the stream in a
limit and ``get_data`` then quietly stops at the limit, so a valid body padded past it
used to be read as its first megabyte. Here one byte more than the limit is asked for, and
getting it is a 413.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from connector import jsontext
from connector.limits import MAX_REQUEST_BYTES
from connector.problems import FieldError, MalformedBody, PayloadTooLarge

__all__ = ["json_body", "read_body"]

_READ_SIZE = 64 * 1024


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {limit:,} bytes.",
        errors=[FieldError("body", f"must be at most {limit:,} bytes")],
    )


def read_body(limit: int | None = None) -> bytes:
    """The whole body, or a 413 naming ``body`` if it is over ``limit`` bytes (default:
    ``MAX_REQUEST_BYTES``), however it is framed; nothing past the limit is read."""
    limit = limit or MAX_REQUEST_BYTES
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)
    # A declared length is read exactly; otherwise one byte past the limit tells it is over.
    wanted = limit + 1 if declared is None else declared
    stream = request.stream
    if declared is None and request.environ.get("wsgi.input_terminated"):
        # The server ends the stream (gunicorn de-chunks it), so it is read directly:
        # werkzeug's wrapper would refuse a body of exactly its limit on the byte past it.
        stream = request.environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    try:
        while size < wanted:
            chunk = stream.read(min(_READ_SIZE, wanted - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:  # werkzeug's own cap on the stream was reached first
        raise _too_large(limit) from None
    if size > limit:
        raise _too_large(limit)
    return b"".join(chunks)


def json_body() -> Any:
    """The parsed body; over the size limit is a 413, and empty, malformed, too deeply nested
    or non-UTF-8 JSON a 400, each naming ``body``."""
    raw = read_body()
    if not raw.strip():
        raise MalformedBody(
            "The request body is empty; send a JSON object.",
            errors=[FieldError("body", "must be a JSON object")],
        )
    try:
        return jsontext.loads(raw, constants=False)
    except jsontext.TooDeeplyNested as exc:
        raise MalformedBody(
            "The request body is nested too deeply.", errors=[FieldError("body", str(exc))]
        ) from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise MalformedBody(
            "The request body is not valid JSON.",
            errors=[FieldError("body", f"is not valid JSON ({exc})")],
        ) from None
