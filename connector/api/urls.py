"""The connector's public address: ``CONNECTOR_PUBLIC_URL`` when set (behind a proxy), else
the address the request reached."""

from __future__ import annotations

from flask import request

from connector.services import services

__all__ = ["public_base_url"]


def public_base_url() -> str:
    configured = services().settings.connector_public_url
    return configured or request.host_url.rstrip("/")
