"""A Retell webhook's raw body, read within the webhook limit and signature-checked.

One function for every endpoint Retell calls (call events, inbound calls), so they check
exactly alike: the body is read up to ``MAX_WEBHOOK_BYTES`` (413 past it), then
``x-retell-signature`` is verified on the raw bytes before anything is parsed (401 problem
otherwise, and nothing is answered or stored).
"""

from __future__ import annotations

from flask import request

from connector.api.body import read_body
from connector.limits import MAX_WEBHOOK_BYTES
from connector.problems import InvalidSignature
from connector.retell.signature import SignatureError, verify
from connector.services import services

__all__ = ["signed_retell_body"]


def signed_retell_body() -> bytes:
    """The request's body, once Retell's signature on it checks out."""
    raw = read_body(MAX_WEBHOOK_BYTES)
    key = services().settings.retell_api_key.get_secret_value()
    try:
        verify(raw, key, request.headers.get("x-retell-signature"))
    except SignatureError as exc:
        raise InvalidSignature(str(exc)) from None
    return raw
