"""SampledLog: each line while few, a summary of the rest while many, every line at DEBUG."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from connector.log_sampling import SampledLog


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lines() -> _Lines:
    return _Lines()


def _logger(lines: _Lines, level: int) -> logging.Logger:
    logger = logging.getLogger(f"test.sampling.{id(lines)}")
    logger.handlers, logger.propagate = [lines], False
    logger.setLevel(level)
    return logger


def _event(sampled: SampledLog, n: int, *, duplicate: bool = False) -> None:
    sampled.info({"duplicates" if duplicate else "stored": 1, "deliveries": 2}, "event %d", n)


def test_lines_within_the_burst_are_each_logged(lines: _Lines) -> None:
    """While a second holds no more than the burst, every line is written as it comes."""
    sampled = SampledLog(_logger(lines, logging.INFO), "call events", burst=3, clock=_Clock())
    for n in range(3):
        _event(sampled, n)
    sampled.flush()
    assert lines.lines == ["event 0", "event 1", "event 2"]


def test_lines_over_the_burst_are_summarised_when_the_next_window_starts(lines: _Lines) -> None:
    """Lines past the burst are counted, and their totals written before the next window's."""
    clock = _Clock()
    sampled = SampledLog(_logger(lines, logging.INFO), "call events", burst=2, clock=clock)
    for n in range(5):
        _event(sampled, n, duplicate=n == 4)
    assert lines.lines == ["event 0", "event 1"]
    clock.now += 1.0
    _event(sampled, 5)
    assert lines.lines[2:] == [
        "3 more call events within 1 s, not logged one by one"
        " (2 stored, 6 deliveries, 1 duplicates)",
        "event 5",
    ]


def test_the_summary_is_written_when_events_stop(lines: _Lines) -> None:
    """A window that ends with lines held writes their summary by itself, with no next event."""
    sampled = SampledLog(_logger(lines, logging.INFO), "call events", burst=1, window=0.05)
    for n in range(4):
        _event(sampled, n)
    deadline = time.monotonic() + 5
    while len(lines.lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lines.lines == [
        "event 0",
        "3 more call events within 0.05 s, not logged one by one (3 stored, 6 deliveries)",
    ]


def test_at_debug_every_line_is_logged(lines: _Lines) -> None:
    """Asking for DEBUG gets each line, however many come."""
    sampled = SampledLog(_logger(lines, logging.DEBUG), "call events", burst=1, clock=_Clock())
    for n in range(5):
        _event(sampled, n)
    sampled.flush()
    assert lines.lines == [f"event {n}" for n in range(5)]


def test_above_info_nothing_is_logged_or_counted(lines: _Lines) -> None:
    """At WARNING the lines are neither written nor summarised later."""
    clock = _Clock()
    sampled = SampledLog(_logger(lines, logging.WARNING), "call events", burst=1, clock=clock)
    for n in range(5):
        _event(sampled, n)
    clock.now += 1.0
    _event(sampled, 5)
    sampled.flush()
    assert lines.lines == []


def test_every_line_from_many_threads_is_logged_or_counted(lines: _Lines) -> None:
    """Sixteen threads logging at once: each line is either written or in a summary."""
    sampled = SampledLog(_logger(lines, logging.INFO), "call events", burst=10, window=0.02)

    def work() -> None:
        for n in range(200):
            _event(sampled, n)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sampled.flush()
    single = [line for line in lines.lines if line.startswith("event ")]
    summarised = sum(
        int(line.split(" more", 1)[0].replace(",", ""))
        for line in lines.lines
        if " more call events " in line
    )
    assert len(single) + summarised == 16 * 200
    assert summarised > 0
