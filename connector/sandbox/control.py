"""``/_sandbox/*``: controls that are not part of Retell's API.

They need no API key: the sandbox is a local development and test tool; never expose it.
Also serves each call's ``recording_url`` (a second of silence) and ``public_log_url``.
"""

from __future__ import annotations

import dataclasses
import io
import wave
from typing import Any

from flask import Blueprint, Response, request

from connector.sandbox.config import SandboxConfig
from connector.sandbox.errors import ApiError
from connector.sandbox.faults import parse_faults
from connector.sandbox.inbound import inbound_call, parse_simulation, simulate_inbound
from connector.sandbox.state import current_sandbox

__all__ = ["bp"]

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

_TUNABLE = {f.name for f in dataclasses.fields(SandboxConfig) if f.name not in ("api_key",)}


@bp.get("/stats")
def stats() -> dict[str, Any]:
    """Counters, so tests and benchmarks can see what reached 'Retell'."""
    sandbox = current_sandbox()
    return {**sandbox.stats.snapshot(), "calls_by_phase": sandbox.book.phases()}


@bp.get("/concurrency")
def concurrency() -> dict[str, Any]:
    """Slots now, the highest seen, each call's dial and end (``?calls=false``: no list)."""
    sandbox = current_sandbox()
    config = sandbox.config
    listed = request.args.get("calls", "true").lower() not in ("false", "0", "no")
    return {
        "limit": config.concurrency_limit,
        "reserved_inbound": config.reserved_inbound_concurrency,
        "over_limit_mode": config.concurrency_over_limit,
        **sandbox.concurrency.report(calls=listed),
    }


@bp.delete("/concurrency")
def reset_concurrency() -> dict[str, Any]:
    """Measure afresh: the highest and the call list restart from the calls in progress."""
    current_sandbox().concurrency.reset()
    return concurrency()


@bp.get("/faults")
def list_faults() -> dict[str, Any]:
    """Faults still waiting for a request."""
    return {"pending": current_sandbox().faults.pending()}


@bp.post("/faults")
def add_faults() -> tuple[dict[str, Any], int]:
    """Queue a fault for the next ``count`` matching requests."""
    sandbox = current_sandbox()
    fault, count = parse_faults(request.get_json(silent=True))
    sandbox.faults.add(fault, count)
    return {"queued": count, "pending": sandbox.faults.pending()}, 201


@bp.delete("/faults")
def clear_faults() -> dict[str, Any]:
    """Drop every pending fault."""
    return {"cleared": current_sandbox().faults.clear()}


@bp.get("/webhooks")
def webhook_history() -> dict[str, Any]:
    """Recent webhook deliveries, for debugging a receiver."""
    return {"items": current_sandbox().webhooks.history()}


@bp.get("/config")
def show_config() -> dict[str, Any]:
    """The tunable settings (the API key is left out)."""
    config = dataclasses.asdict(current_sandbox().config)
    return {k: v for k, v in config.items() if k in _TUNABLE}


@bp.patch("/config")
def change_config() -> dict[str, Any]:
    """Change the clock, webhook URL or latency while running."""
    changes = request.get_json(silent=True)
    if not isinstance(changes, dict) or not set(changes) <= _TUNABLE:
        raise ApiError.bad_request(f"Send an object with some of: {', '.join(sorted(_TUNABLE))}.")
    try:
        current_sandbox().configure(**changes)
    except (TypeError, ValueError) as exc:
        raise ApiError.bad_request(str(exc)) from None
    return show_config()


@bp.post("/inbound-calls")
def inbound_call_in() -> tuple[dict[str, Any], int]:
    """A caller rings one of the account's numbers (see ``connector.sandbox.inbound``)."""
    sandbox = current_sandbox()
    routing = parse_simulation(request.get_json(silent=True))
    placed, routed = simulate_inbound(routing, sandbox.config, sandbox.stats, sandbox.stopping)
    webhook = {
        "url": sandbox.config.inbound_webhook_url,
        "attempts": routed.attempts,
        "answer": routed.answer,
        "error": routed.error,
    }
    if placed is None:
        return {"call": None, "declined": True, "inbound_webhook": webhook}, 200
    view = sandbox.lifecycle.start_inbound(inbound_call(placed))
    return {"call": view, "declined": False, "inbound_webhook": webhook}, 201


def _known(call_id: str) -> dict[str, Any]:
    """A call that has ended with a recording, else 404."""
    call = current_sandbox().book.view(call_id)
    if call is None or "recording_url" not in call:
        raise ApiError(404)
    return call


@bp.get("/recordings/<call_id>.wav")
def recording(call_id: str) -> Response:
    """One second of silence, so a recording_url really downloads."""
    _known(call_id)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * 8000)
    return Response(buffer.getvalue(), mimetype="audio/wav")


@bp.get("/logs/<call_id>.txt")
def public_log(call_id: str) -> Response:
    """A plain-text turn log, standing in for Retell's public log."""
    call = _known(call_id)
    lines = [f"call {call_id} ({call['call_status']}, {call.get('disconnection_reason')})"]
    for turn in call.get("transcript_object", []):
        start = turn["words"][0]["start"] if turn["words"] else 0.0
        lines.append(f"[{start:8.3f}s] {turn['role']}: {turn['content']}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")
