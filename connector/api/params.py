"""Reading query parameters, with a clear 422 naming the parameter when one is bad.

``refuse_nul`` runs before every request: PostgreSQL cannot hold a NUL character in text, so
an id or filter carrying one (``/v1/inbound/rules/x%00y``) failed in the store, which answered
503 "retry" to input that can never succeed; it is refused up front, naming the parameter.
"""

from __future__ import annotations

from flask import request

from connector.problems import NUL_MESSAGE, FieldError, ValidationFailed

__all__ = ["limit_arg", "refuse_nul"]


def limit_arg(*, default: int, maximum: int) -> int:
    """``?limit=``: a whole number from 1 to ``maximum``; absent or empty means ``default``."""
    raw = (request.args.get("limit") or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise ValidationFailed(
            "Invalid limit.",
            errors=[FieldError("limit", f"must be a whole number from 1 to {maximum}")],
        )
    return int(raw)


def refuse_nul() -> None:
    """422 for a NUL character in a path parameter or a query parameter's name or value."""
    found = [
        *(name for name, value in (request.view_args or {}).items() if "\x00" in str(value)),
        *(
            name
            for name, value in request.args.items(multi=True)
            if "\x00" in name or "\x00" in value
        ),
    ]
    if found:
        raise ValidationFailed(
            "The request contains a NUL character.",
            errors=[
                FieldError(name.replace("\x00", ""), NUL_MESSAGE) for name in dict.fromkeys(found)
            ],
        )
