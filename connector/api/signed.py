"""A Retell webhook's raw body, read within the webhook limit and signature-checked.

One function for every endpoint Retell calls (call events, inbound calls), so they check
exactly alike: the body is read up to ``MAX_WEBHOOK_BYTES`` (413 past it), then
``x-retell-signature`` is verified on the raw bytes before anything is parsed (401 problem
otherwise, and nothing is answered or stored); ``retell_json`` then parses it, naming
``body`` in the 400 problem when it is not JSON, alike for both endpoints.
"""

from __future__ import annotations

from typing import Any

from flask import request

from connector import jsontext
from connector.api.body import read_body
from connector.limits import MAX_WEBHOOK_BYTES
from connector.problems import FieldError, InvalidSignature, MalformedBody
from connector.retell.signature import SignatureError, verify
from connector.services import services

__all__ = ["retell_json", "signed_retell_body"]


def signed_retell_body() -> bytes:
    """The request's body, once Retell's signature on it checks out."""
    raw = read_body(MAX_WEBHOOK_BYTES)
    key = services().settings.retell_api_key.get_secret_value()
    try:
        verify(raw, key, request.headers.get("x-retell-signature"))
    except SignatureError as exc:
        raise InvalidSignature(str(exc)) from None
    return raw


def retell_json(raw: bytes) -> Any:
    """A verified webhook body parsed; not JSON (or nested too deeply) is a 400 naming ``body``."""
    try:
        return jsontext.loads(raw)
    except jsontext.TooDeeplyNested as exc:
        raise MalformedBody(
            "The webhook body is nested too deeply.", errors=[FieldError("body", str(exc))]
        ) from None
    except ValueError:  # also UnicodeDecodeError
        raise MalformedBody(
            "The webhook body is not valid JSON.", errors=[FieldError("body", "is not valid JSON")]
        ) from None
