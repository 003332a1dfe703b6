"""Prometheus metrics, multiprocess-aware so every gunicorn worker is counted."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["CAMPAIGN_DIALS", "CONTENT_TYPE_LATEST", "REQUESTS", "RETELL_CALLS", "render"]

REQUESTS = Histogram(
    "connector_http_request_seconds",
    "Time to answer a request to the connector, by endpoint and status.",
    ["endpoint", "status"],
)
RETELL_CALLS = Counter(
    "connector_calls_created_total",
    "Create Phone Call outcomes: created, replayed, rejected, unknown.",
    ["outcome"],
)

CAMPAIGN_DIALS = Counter(
    "connector_campaign_dials_total",
    "Dials of queued calls by what Retell answered: placed, requeued (429 or not reached), "
    "uncertain (reconciled later), refused.",
    ["result"],
)


def render() -> bytes:
    """The exposition text for every process of this server."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
