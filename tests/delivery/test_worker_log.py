"""The delivery loop's log: successes sampled like call events; every failure on its own line."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from connector.delivery import worker as worker_module
from connector.delivery.sender import Sender
from connector.delivery.worker import DeliveryWorker
from connector.log_sampling import SampledLog
from connector.store.engine import create_store_engine
from connector.store.inbox import EventInbox
from connector.store.outbox import DAY, DeliveryQueue
from connector.store.subscriptions import SubscriptionStore
from tests.conftest import sample_call

BURST = 10


def _drain(tmp_path: Path, status: int, events: int) -> None:
    """``events`` events to one subscriber answering ``status``, delivered once each."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    SubscriptionStore(engine).create("owner", "https://hooks.example.com/h", ["call_ended"], None)
    inbox = EventInbox(engine)
    for number in range(events):
        inbox.accept("call_ended", sample_call(call_id=f"call_{number}"))
    sender = Sender(httpx.MockTransport(lambda _request: httpx.Response(status)))
    worker = DeliveryWorker(DeliveryQueue(engine, schedule=(DAY,)), sender, concurrency=4)
    worker.drain(30)
    worker.stop()


@pytest.fixture
def one_window(monkeypatch: pytest.MonkeyPatch) -> SampledLog:
    """A fresh sampler whose window never ends on its own (the test flushes it)."""
    sampled = SampledLog(worker_module.log, "deliveries", burst=BURST, clock=lambda: 0.0)
    monkeypatch.setattr(worker_module, "delivered_lines", sampled)
    return sampled


def _attempt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == worker_module.log.name]


@pytest.mark.parametrize(
    ("status", "line_ends", "lines", "summary"),
    [
        # 25 successes in one second: 10 lines, then one summary counting the other 15
        (
            204,
            "-> 204 (succeeded)",
            BURST,
            "15 more deliveries within 1 s, not logged one by one (15 succeeded)",
        ),
        # 25 failed attempts in one second: 25 lines, none held back for a summary
        (500, "-> 500 (pending)", 25, None),
    ],
    ids=["successes are summarised past the burst", "every failure keeps its own line"],
)
def test_attempt_lines_in_one_busy_second(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    one_window: SampledLog,
    status: int,
    line_ends: str,
    lines: int,
    summary: str | None,
) -> None:
    """Of 25 attempts within one second, successes past the burst go to one summary line;
    failures are all logged one by one."""
    caplog.set_level(logging.INFO, logger=worker_module.log.name)
    _drain(tmp_path, status, 25)
    one_window.flush()
    logged = _attempt_lines(caplog)
    assert len([line for line in logged if line.endswith(line_ends)]) == lines
    summaries = [line for line in logged if "not logged one by one" in line]
    assert summaries == ([summary] if summary else [])
    if summary:
        assert logged[-1] == summary
