"""Bearer-token authentication for platform requests.

Tokens come from ``CONNECTOR_API_TOKENS``; the comparison is constant-time against every
configured token. ``g.token_scope`` names the caller without keeping the token itself.
"""

from __future__ import annotations

from flask import Blueprint, g, request

from connector.problems import Unauthenticated
from connector.services import services
from connector.tenancy import match_token

__all__ = ["protect"]


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the connector API token as 'Authorization: Bearer <token>'.")
    token = token.strip()
    owner = match_token(services().settings.token_list(), token)
    if owner is None:
        raise Unauthenticated("The bearer token is not one of the connector's API tokens.")
    g.token_scope = owner


def protect(bp: Blueprint) -> Blueprint:
    """Require a valid bearer token on every route of ``bp``."""
    bp.before_request(_authenticate)
    return bp
