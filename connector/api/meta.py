"""Service endpoints: health, readiness, metrics, the manifest, schemas and OpenAPI document,
and ``/v1/me``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy import text

from connector import manifest, metrics
from connector.api.auth import protect
from connector.api.urls import public_base_url
from connector.platforms.openapi import document as openapi
from connector.problems import NotFound, NotReady
from connector.services import services

__all__ = ["bp", "me_bp"]

bp = Blueprint("meta", __name__)
me_bp = protect(Blueprint("me", __name__, url_prefix="/v1"))


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> dict[str, Any]:
    try:
        with services().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready", never a 500
        raise NotReady(f"The store is unavailable ({type(exc).__name__}).") from exc
    worker = services().worker
    if worker.started and not worker.alive:
        raise NotReady("The delivery worker has stopped.")
    delivery = "running" if worker.alive else "not started in this process"
    dialer = services().dialer
    if dialer.started and not dialer.alive:
        raise NotReady("The campaign dialer has stopped.")
    dialing = "running" if dialer.alive else "not started in this process"
    return {"status": "ready", "checks": {"store": "ok", "delivery": delivery, "dialer": dialing}}


@bp.get("/metrics")
def metrics_text() -> Response:
    return Response(metrics.render(), mimetype=metrics.CONTENT_TYPE_LATEST)


@bp.get("/manifest.json")
def manifest_json() -> dict[str, Any]:
    return manifest.render_manifest(public_base_url())


@bp.get("/schemas/<name>.json")
def schema_json(name: str) -> dict[str, Any]:
    try:
        return manifest.load_schema(name)
    except (KeyError, ValueError, OSError):  # OSError: e.g. a name too long for the disk
        raise NotFound(f"No schema named {name!r}.") from None


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """OpenAPI 3.1 of this API, its server URL the one the caller reached (like the manifest)."""
    return Response(openapi.served_document(public_base_url()), mimetype="application/json")


@me_bp.get("/me")
def me() -> dict[str, Any]:
    """Auth test: proves both the platform's token and the server's Retell key work."""
    settings = services().settings
    identity = services().retell.whoami()
    mode = "sandbox" if settings.sandbox else "live"
    org = identity.get("org_name") or identity.get("org_id")
    key_name = identity.get("api_key_name")
    label = " · ".join(str(part) for part in (org or "Retell", key_name, mode) if part)
    return {"label": label, "mode": mode, "org_name": org, "api_key_name": key_name}
