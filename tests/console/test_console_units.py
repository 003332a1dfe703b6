"""The console's pure helpers: masking, chart geometry and formats."""

from __future__ import annotations

import pytest

from connector.console.charts import Series, bar_chart, line_chart, nice_ceiling
from connector.console.formats import duration, percent, when
from connector.console.masking import mask_phone, mask_url
from connector.console.session import ConsoleSession, SessionCodec

HOURS = [1_796_000_400.0 + 3600 * i for i in range(24)]


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("+14155550123", "+1••••••••23"),
        ("+442071838750", "+4•••••••••50"),
        ("4155550123", "••••••••23"),
        ("+1234", "•••"),
        (None, "—"),
        ("", "—"),
    ],
)
def test_mask_phone(number: object, shown: str) -> None:
    """Only the country's first digit and the last two digits remain."""
    assert mask_phone(number) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://hooks.zapier.com/hooks/catch/1/abc/?key=s3cret",
            "https://hooks.zapier.com/hooks/catch/1/abc/?…",
        ),
        ("https://user:pw@example.com:8443/h", "https://example.com:8443/h"),
        ("http://[::1]:8080/h?x=1", "http://[::1]:8080/h?…"),
        ("https://example.com/plain", "https://example.com/plain"),
        ("http://[bad/", "(unreadable URL)"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    """Query strings and credentials never show."""
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (420, 500), (1001, 2000)]
)
def test_nice_ceiling(value: float, top: float) -> None:
    """Axis tops are 1, 2 or 5 times a power of ten."""
    assert nice_ceiling(value) == top


def test_bar_chart_stacks_and_scales() -> None:
    """Stacked bars share a column; the tallest column reaches the axis top."""
    ok = [0] * 23 + [6]
    fail = [0] * 23 + [4]
    chart = bar_chart("Deliveries", HOURS, [Series("ok", "ok", ok), Series("failed", "fail", fail)])
    first, second = chart.rects
    assert first.x == second.x
    assert first.height + second.height == pytest.approx(160 - 20 - 8)
    assert "ok: 6; failed: 4" in chart.summary


def test_line_chart_skips_hours_without_a_value() -> None:
    """An hour with no value draws no point; a lone value still shows as a dot."""
    values: list[float | None] = [None] * 24
    values[5] = 1.5
    chart = line_chart("Latency", HOURS, [Series("p50", "p50", values)], unit=" s")
    (line,) = chart.lines
    assert len(line.dots) == 1
    assert "highest 1.50 s" in chart.summary


def test_an_empty_chart_has_a_summary_and_no_marks() -> None:
    """A day without events still has a text summary for screen readers, and no bars."""
    chart = bar_chart("Events", HOURS, [Series("events", "events", [0] * 24)])
    assert chart.rects == [] and "events: 0" in chart.summary


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1_796_000_000, "2026-11-30 00:53:20 UTC"),
        (1_796_000_000_000, "2026-11-30 00:53:20 UTC"),
        ("2026-11-30T08:53:20.000Z", "2026-11-30 08:53:20 UTC"),
        (None, "—"),
        ("not a time", "not a time"),
    ],
)
def test_when(value: object, text: str) -> None:
    """Seconds, Retell's milliseconds and ISO text all read as UTC."""
    assert when(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(2.34, "2.3 s"), (42, "42 s"), (83.4, "1 min 23 s"), (7260, "2 h 1 min"), (None, "—")],
)
def test_duration(seconds: object, text: str) -> None:
    """Durations read in the largest units that fit; a missing one is a dash."""
    assert duration(seconds) == text


def test_percent() -> None:
    """Rates show as whole percentages; a missing rate is a dash."""
    assert (percent(0.934), percent(None)) == ("93%", "—")


def test_a_session_round_trips_and_a_tampered_one_does_not() -> None:
    """The codec reads back what it signed and nothing signed with another key."""
    session = ConsoleSession.signed_in("abcdef0123456789")
    value = SessionCodec("k" * 40).dumps(session)
    assert SessionCodec("k" * 40).loads(value) == session
    assert SessionCodec("j" * 40).loads(value) is None
    assert SessionCodec("k" * 40).loads(value[:-2] + "xx") is None


def test_csrf_compare() -> None:
    """Only the session's own CSRF token matches: not empty, missing or extended ones."""
    session = ConsoleSession.anonymous()
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(None)
    assert not session.csrf_matches(session.csrf + "x")
