"""Retell AI voice agents for no-code automation platforms.

``create_app`` is the Flask app factory; everything else is importable without Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from connector.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the connector app (imported lazily so pure modules never pull in Flask)."""
    from connector.app import create_app as _create_app

    return _create_app(settings, **overrides)
