"""Charts as geometry for inline SVG drawn on the server: no script, no library.

Pure (no Flask): hourly series in, rectangles, polylines and axis labels out; the
``_charts.html`` macros turn them into ``<svg>``. Colours are CSS classes, so the page's
stylesheet (and the Content-Security-Policy that forbids inline styles) stays in charge.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Chart", "Series", "bar_chart", "line_chart", "nice_ceiling"]

WIDTH, HEIGHT = 480.0, 160.0
LEFT, BOTTOM, TOP = 40.0, 20.0, 8.0


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # class on each mark, e.g. "ok" or "fail"
    values: Sequence[float | None]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y ..." for <polyline>
    css: str
    name: str
    dots: tuple[tuple[float, float], ...] = ()  # each value, so a lone hour still shows


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass
class Chart:
    """Everything the template needs; ``summary`` is the text alternative."""

    title: str
    summary: str
    width: float = WIDTH
    height: float = HEIGHT
    rects: list[Rect] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[Label] = field(default_factory=list)
    y_labels: list[Label] = field(default_factory=list)
    legend: list[Series] = field(default_factory=list)


def nice_ceiling(value: float) -> float:
    """The axis top: ``value`` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _hour_label(start: float) -> str:
    return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%H:00")


def _frame(chart: Chart, hours: Sequence[float], top: float, unit: str) -> None:
    plot_h = HEIGHT - BOTTOM - TOP
    for fraction in (0.0, 0.5, 1.0):
        value = top * fraction
        text = f"{value:g}{unit}"
        chart.y_labels.append(Label(LEFT - 4, TOP + plot_h * (1 - fraction) + 4, text))
    step = (WIDTH - LEFT) / max(1, len(hours))
    for i, start in enumerate(hours):
        if i % 6 == 0:
            chart.x_labels.append(Label(LEFT + i * step, HEIGHT - 4, _hour_label(start)))


def bar_chart(
    title: str, hours: Sequence[float], series: Sequence[Series], unit: str = ""
) -> Chart:
    """Stacked bars, one column per hour."""
    totals = [sum(float(s.values[i] or 0) for s in series) for i in range(len(hours))]
    top = nice_ceiling(max(totals, default=0))
    summary = "; ".join(f"{s.name}: {sum(float(v or 0) for v in s.values):g}" for s in series)
    chart = Chart(title, f"{title}, last 24 hours. {summary}.", legend=list(series))
    _frame(chart, hours, top, unit)
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(1, len(hours))
    for i, start in enumerate(hours):
        base = HEIGHT - BOTTOM
        for s in series:
            value = float(s.values[i] or 0)
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            tip = f"{_hour_label(start)}: {value:g}{unit} {s.name}"
            chart.rects.append(Rect(LEFT + i * step + 1, base, max(1.0, step - 2), h, s.css, tip))
    return chart


def line_chart(
    title: str, hours: Sequence[float], series: Sequence[Series], unit: str = ""
) -> Chart:
    """One polyline per series; hours without a value break nothing (they are skipped)."""
    seen = [float(v) for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(seen, default=0))
    parts = []
    for s in series:
        known = [float(v) for v in s.values if v is not None]
        parts.append(f"{s.name} highest {max(known):.2f}{unit}" if known else f"{s.name}: none")
    chart = Chart(title, f"{title}, last 24 hours. {'; '.join(parts)}.", legend=list(series))
    _frame(chart, hours, top, unit)
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(1, len(hours))
    for s in series:
        dots = tuple(
            (round(LEFT + i * step + step / 2, 1), round(TOP + plot_h * (1 - float(v) / top), 1))
            for i, v in enumerate(s.values)
            if v is not None
        )
        if dots:
            points = " ".join(f"{x},{y}" for x, y in dots)
            chart.lines.append(Line(points, s.css, s.name, dots))
    return chart
