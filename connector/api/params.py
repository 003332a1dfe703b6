"""Reading query parameters, with a clear 422 naming the parameter when one is bad."""

from __future__ import annotations

from flask import request

from connector.problems import FieldError, ValidationFailed

__all__ = ["limit_arg"]


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
