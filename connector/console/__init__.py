"""The web console (issue 12): a builder sees and fixes what the connector is doing.

A Flask blueprint at ``/console`` with server-rendered Jinja pages, one stylesheet and no
script at all: charts are inline SVG drawn on the server (``charts``). It reads the same
services the API uses, plus the console's own store reads (``connector.store.delivery_pages``,
``delivery_stats``, ``subscription_admin``), and shows only what the signed-in token owns.
"""

from __future__ import annotations

from flask import Flask

from connector.console import views
from connector.console.web import bp, install

__all__ = ["init_console"]


def init_console(app: Flask) -> None:
    """Register the console on ``app`` (after the services are in ``app.extensions``)."""
    install(app)
    views.register()
    app.register_blueprint(bp)
