"""Overview: the last 24 hours as pictures."""

from __future__ import annotations

from typing import Any

from connector.console.charts import Series, bar_chart, line_chart
from connector.console.web import bp, console, owner, render
from connector.retell.errors import RetellError
from connector.services import services


def concurrency() -> dict[str, Any] | None:
    """Retell's calls in flight and limit; None when Retell cannot say right now."""
    try:
        found = services().retell.get_concurrency()
    except RetellError:
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
