"""The connector's HTTP layer: one blueprint per area, errors rendered in one place."""

from __future__ import annotations

from flask import Flask

from connector.api import actions, errors, meta, options

__all__ = ["register_api"]


def register_api(app: Flask) -> None:
    errors.init_app(app)
    app.register_blueprint(meta.bp)
    app.register_blueprint(meta.me_bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(options.bp)
