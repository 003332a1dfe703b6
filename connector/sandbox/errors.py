"""Retell's error body, ``{"status": "error", "message": ...}``, as one exception."""

from __future__ import annotations

from typing import Any

__all__ = ["MESSAGES", "ApiError", "error_body"]

# Retell's own messages (its OpenAPI spec's examples), so clients see familiar text; 408 and
# 409 have no example there, so theirs say what the SDKs' retry of them assumes.
MESSAGES: dict[int, str] = {
    400: "Invalid request format, please check API reference.",
    401: "API key is missing or invalid.",
    402: "Trial has ended, please add payment method.",
    403: "Forbidden",
    404: "The requested resource was not found.",
    405: "Method not allowed.",
    408: "Request timed out, please try again.",
    409: "Conflict: a request with this idempotency key is already being processed.",
    422: "Cannot find requested asset under given api key.",
    429: "Account rate limited, please throttle your requests.",
    500: "An unexpected server error occurred.",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The JSON Retell answers with for ``status``."""
    text = message or MESSAGES.get(status) or MESSAGES[500 if status >= 500 else 400]
    return {"status": "error", "message": text}


class ApiError(Exception):
    """Raised anywhere in the sandbox; the app renders it as Retell's error body."""

    def __init__(self, status: int, message: str | None = None) -> None:
        self.status = status
        self.message = error_body(status, message)["message"]
        super().__init__(f"{status}: {self.message}")

    @classmethod
    def bad_request(cls, message: str | None = None) -> ApiError:
        """400, Retell's catch-all for a body that doesn't fit the API reference."""
        return cls(400, message)
