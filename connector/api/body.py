"""Reading a JSON request body, with a clear problem for anything that is not JSON."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from connector.problems import FieldError, MalformedBody

__all__ = ["json_body"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def json_body() -> Any:
    """The parsed body; empty, malformed or non-UTF-8 JSON is a 400 naming ``body``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise MalformedBody(
            "The request body is empty; send a JSON object.",
            errors=[FieldError("body", "must be a JSON object")],
        )
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(
            "The request body is not valid JSON.",
            errors=[FieldError("body", f"is not valid JSON ({exc})")],
        ) from None
