"""Reading a JSON request body, with a clear problem for anything that is not JSON."""

from __future__ import annotations

from typing import Any

from flask import request

from connector import jsontext
from connector.problems import FieldError, MalformedBody

__all__ = ["json_body"]


def json_body() -> Any:
    """The parsed body; empty, malformed, too deeply nested or non-UTF-8 JSON is a 400
    naming ``body``."""
    raw = request.get_data(cache=True)
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
