"""Idempotency keys derived from an assistant's request, so a retried tool call never dials twice.

A JSON-RPC request id is unique only within one MCP session (clients count 0, 1, 2, …), so a
key is derived only where there is a session: one ``retell-connector mcp`` process, or an
``Mcp-Session-Id`` on ``/mcp``. The key hashes session, request id (with its JSON type: 1 and
"1" differ) and tool; the connector then scopes it to the token, as for any platform.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["SESSION_ID", "derived_key"]

SESSION_ID = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII, as the MCP spec requires


def derived_key(session: str, request_id: int | str, tool: str) -> str:
    """``mcp-`` and 40 hex digits: the same for the same request of the same session."""
    seed = "\x00".join((session, type(request_id).__name__, str(request_id), tool))
    return "mcp-" + hashlib.sha256(seed.encode()).hexdigest()[:40]
