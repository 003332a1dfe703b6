"""``POST /mcp``: the connector's actions as MCP tools over streamable HTTP (issue 14).

Bearer-token auth and tenancy are the API's own (``protect``): a tool call is handed, with
the caller's token, to this same app in-process (``httpx.WSGITransport``), so it runs the
action's route with its validation, idempotency and store, exactly as a platform's request.
The SDK answers each POST statelessly (``connector.mcp.http``); GET (a server-to-client
stream) and DELETE are not offered, which MCP allows (405).

A client that opens with ``initialize`` gets an ``Mcp-Session-Id``. Nothing is kept for it
on the server: the client sends it back on each request, and a retried ``tools/call`` (same
session, same JSON-RPC id) then derives the same idempotency key, so it never dials twice.
"""

from __future__ import annotations

import functools
import json
import secrets

import httpx
from flask import Blueprint, Response, current_app, request

from connector.api.auth import protect
from connector.api.body import read_body
from connector.manifest import load_manifest, load_schema
from connector.mcp.catalog import Catalog, build_catalog
from connector.mcp.http import Exchange, serve_exchange
from connector.mcp.keys import SESSION_ID
from connector.mcp.remote import ConnectorApi
from connector.mcp.server import build_server
from connector.problems import FieldError, ValidationFailed

__all__ = ["bp"]

bp = protect(Blueprint("mcp", __name__))

SESSION_HEADER = "Mcp-Session-Id"
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


@functools.cache
def _catalog() -> Catalog:
    return build_catalog(load_manifest(), load_schema)


def _opens_session(body: bytes) -> bool:
    """Whether the message is an ``initialize`` request (the legacy handshake)."""
    try:
        message = json.loads(body)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("method") == "initialize"


def _session() -> str | None:
    session = request.headers.get(SESSION_HEADER)
    if session is not None and not SESSION_ID.fullmatch(session):
        raise ValidationFailed(
            "The MCP session id is not valid.",
            errors=[FieldError(SESSION_HEADER, "must be 1 to 128 visible ASCII characters")],
        )
    return session


@bp.post("/mcp")
def mcp() -> Response:
    body = read_body()
    session = _session()
    token = request.headers["Authorization"].partition(" ")[2].strip()  # checked by protect
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    api = ConnectorApi(request.host_url, token, transport=httpx.WSGITransport(app=app))
    server = build_server(_catalog(), api, session=session, version=load_manifest()["version"])
    exchange = Exchange(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        headers=[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers],
        body=body,
        scheme=request.scheme,
    )
    try:
        reply = serve_exchange(server, exchange)
    finally:
        api.close()
    response = Response(reply.body, reply.status)
    for name, value in reply.headers:
        if name.lower() not in _HOP_BY_HOP and name.lower() != "content-type":
            response.headers.add(name, value)
        elif name.lower() == "content-type":
            response.headers["Content-Type"] = value
    if session is None and reply.status == 200 and _opens_session(body):
        response.headers[SESSION_HEADER] = secrets.token_hex(16)
    return response
