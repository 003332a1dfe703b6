"""Setup: the webhook URL for Retell's dashboard, the connection check, and each platform's
export built for this connector's public address, as a zip."""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from flask import abort
from werkzeug.wrappers import Response

from connector.api.urls import public_base_url
from connector.console.web import bp, console, render
from connector.platforms import export, load_source
from connector.retell.errors import RetellAuthError, RetellError
from connector.services import services

DOWNLOADS = (
    ("zapier", "Zapier"),
    ("n8n", "n8n"),
    ("make", "Make"),
    ("power-automate", "Power Automate"),
    ("openapi", "OpenAPI"),
)
RECENT_SECONDS = 24 * 3600


def _retell_check() -> dict[str, Any]:
    try:
        identity = services().retell.whoami()
    except RetellAuthError:
        return {"ok": False, "message": "Retell refused the API key (RETELL_API_KEY)."}
    except RetellError as exc:
        return {"ok": False, "message": f"Retell could not be reached: {exc}"}
    name = identity.get("org_name") or identity.get("api_key_name")
    return {"ok": True, "message": "The Retell API key works" + (f" ({name})." if name else ".")}


@bp.get("/setup")
def setup() -> tuple[str, int]:
    base = public_base_url()
    latest = console().admin.latest_event_at()
    arriving = latest is not None and time.time() - latest < RECENT_SECONDS
    return render(
        "setup.html",
        webhook_url=base + "/v1/webhooks/retell",
        inbound_url=base + "/v1/webhooks/retell/inbound",
        base_url=base,
        retell=_retell_check(),
        latest_event=latest,
        arriving=arriving,
        downloads=DOWNLOADS,
        sandbox=services().settings.sandbox,
    )


@bp.get("/setup/<platform>.zip")
def download(platform: str) -> Response:
    if platform not in dict(DOWNLOADS):
        abort(404)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="console-export-") as tmp:
        out = Path(tmp)
        export(platform, out, source=load_source(public_base_url()))
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                archive.write(path, path.relative_to(out).as_posix())
    name = f"retell-connector-{platform}.zip"
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
