"""A Retell simulator: a real HTTP server that speaks Retell's API closely enough that the
official ``retell-sdk`` works against it unchanged (``Retell(base_url=server.url)``).

Calls walk registered → ongoing → ended → analyzed on a configurable clock, their outcome
scripted by the ``to_number`` (see ``scripts``), and post webhooks signed exactly like
Retell's. It is a local development and test tool: its ``/_sandbox/*`` controls need no key.
"""

from __future__ import annotations

from connector.sandbox.app import create_sandbox_app
from connector.sandbox.config import SandboxConfig
from connector.sandbox.receiver import Received, WebhookRecorder
from connector.sandbox.scripts import SCRIPTS, Script, script_for
from connector.sandbox.server import SandboxServer, serve_sandbox
from connector.sandbox.state import Sandbox, sandbox_of

__all__ = [
    "SCRIPTS",
    "Received",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
    "Script",
    "WebhookRecorder",
    "create_sandbox_app",
    "sandbox_of",
    "script_for",
    "serve_sandbox",
]
