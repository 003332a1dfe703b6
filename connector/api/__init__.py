"""The connector's HTTP layer: one blueprint per area, errors rendered in one place."""

from __future__ import annotations

from flask import Flask

from connector import jsonprovider
from connector.api import (
    actions,
    campaigns,
    deliveries,
    errors,
    inbound,
    mcp,
    meta,
    options,
    params,
    triggers,
    webhooks,
)
from connector.api.webhook_fast_path import CallEventFastPath

__all__ = ["register_api"]


def register_api(app: Flask) -> None:
    jsonprovider.install(app)  # request.get_json refuses over-deep nesting too
    errors.init_app(app)
    app.before_request(params.refuse_nul)  # before the store sees an id PostgreSQL cannot hold
    app.register_blueprint(meta.bp)
    app.register_blueprint(meta.me_bp)
    app.register_blueprint(actions.bp)
    app.register_blueprint(options.bp)
    app.register_blueprint(triggers.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(inbound.webhook_bp)
    app.register_blueprint(inbound.bp)
    app.register_blueprint(deliveries.bp)
    app.register_blueprint(campaigns.bp)
    if app.extensions["connector"].settings.connector_mcp_enabled:
        app.register_blueprint(mcp.bp)  # POST /mcp (CONNECTOR_MCP_ENABLED)
    # Call events are stored beneath Flask when nothing about them needs it.
    app.wsgi_app = CallEventFastPath(  # type: ignore[method-assign]
        app.wsgi_app, app.extensions["connector"]
    )
