"""How the console writes times, durations and rates (Jinja filters; pure functions)."""

from __future__ import annotations

import datetime as dt

__all__ = ["duration", "percent", "when"]


def when(value: object) -> str:
    """Unix seconds, epoch milliseconds (Retell) or ISO text → ``2026-11-29 19:20:05 UTC``."""
    if value is None or value == "":
        return "—"
    moment: dt.datetime
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return str(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: object) -> str:
    """``83.4`` → ``1 min 23 s``; under ten seconds with one decimal."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def percent(fraction: object) -> str:
    if not isinstance(fraction, int | float) or isinstance(fraction, bool):
        return "—"
    return f"{fraction * 100:.0f}%"
