"""Overview: the last 24 hours as pictures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from connector.console.charts import Series, bar_chart, line_chart
from connector.console.web import bp, console, owner, render
from connector.retell.errors import RetellError
from connector.services import services

RETELL_WAIT_SECONDS = 2.0
# Retell is asked on a thread of its own so a slow or unreachable Retell delays the overview
# by at most RETELL_WAIT_SECONDS (the read itself is bounded by the client's timeout).
_retell_reads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="console-retell")


def concurrency() -> dict[str, Any] | None:
    """Retell's calls in flight and limit; None when Retell cannot say right now."""
    asked = _retell_reads.submit(services().retell.get_concurrency)
    try:
        found = asked.result(timeout=RETELL_WAIT_SECONDS)
    except (RetellError, FutureTimeout):
        return None
    current, limit = found.get("current_concurrency"), found.get("concurrency_limit")
    if not isinstance(current, int) or not isinstance(limit, int) or limit <= 0:
        return None
    return {"current": current, "limit": limit, "fraction": min(1.0, current / limit)}


@bp.get("/")
def overview() -> tuple[str, int]:
    day = console().stats.day(owner())
    charts = [
        bar_chart("Events received per hour", day.hours, [Series("events", "events", day.events)]),
        bar_chart(
            "Deliveries per hour",
            day.hours,
            [Series("succeeded", "ok", day.succeeded), Series("failed", "fail", day.failed)],
        ),
        line_chart(
            "Delivery latency (event received to subscriber's answer)",
            day.hours,
            [Series("p50", "p50", day.latency_p50), Series("p95", "p95", day.latency_p95)],
            unit=" s",
        ),
    ]
    return render(
        "overview.html",
        charts=charts,
        day=day,
        concurrency=concurrency(),
        campaigns=services().campaigns.campaigns(owner()),
    )
