"""What every metric shares: the ``Metric`` record, run sizes, measured rounds, and P4-P5.

P1-P3 (``bench.ingest``, ``bench.proxy``, ``bench.forwarding``) are ratios against a
ceiling measured in the same run (``bench.stripped``), with the CPU time per operation of
both beside the ratio; P6 and P7 live in ``bench.campaign`` and ``bench.inbound``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.cpu import CpuMeter, CpuUse, wait_until_idle
from bench.procs import Process
from bench.servers import connector, fresh_database, subscribe
from bench.spread import Spread
from bench.workload import RETELL_KEY, create_call_requests, signed_events
from bench.wrk import WrkResult, run_wrk
from connector.store.engine import create_store_engine
from connector.store.outbox import DeliveryQueue
from connector.store.tables import events

__all__ = [
    "P2_IDEAL_RPS",
    "Measured",
    "Metric",
    "Receiver",
    "Size",
    "bare_endpoint_round",
    "direct_upstream_round",
    "iso_seconds",
    "measure_once",
    "median",
    "run_once",
    "stored_events",
    "upstream",
    "wait_for_deliveries",
]

# A run that sends every distinct request once ends when the last is answered; this only
# bounds a run that hangs (the rate is always taken over the span actually used).
ONCE_CAP_SECONDS = 300
P2_IDEAL_RPS = 64 / 0.1  # 64 connections, each answered after exactly 100 ms


@dataclass(frozen=True)
class Size:
    """How big a run is: ``--quick`` shrinks everything."""

    rounds: int
    seconds: float  # a baseline round of ``bench.ceiling`` (load for a fixed time)
    events: int  # P1: distinct webhooks per round
    ingest_rounds: int  # P1: its rounds (more than the others': its ratio moves most)
    calls: int  # P2 saturated: distinct Create Phone Calls per round
    steady_calls: int  # P2 at a steady 50/s: calls per round
    burst_events: int  # P3 one subscriber: events per round
    fanout_events: int  # P3 ten subscribers: events per round (ten deliveries each)
    paced_events: int  # P3 latency: events at one per 20 ms
    memory_steps: tuple[int, int]  # P4
    campaign_calls: int  # P6
    campaign_call_seconds: float  # P6: ring + talk
    inbound_calls: int  # P7
    console_deliveries: int  # C: deliveries stored before the pages are timed


@dataclass
class Metric:
    """One line of the report. ``spread``: the value's lowest-highest round;
    ``ratio_spread``: the ratio of each round's candidate to the same round's ceiling;
    ``cpu_us``/``baseline_cpu_us``: CPU time per operation (µs) of the candidate's and the
    ceiling's process trees."""

    name: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    goal: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)
    spread: Spread | None = None
    ratio_spread: Spread | None = None
    cpu_us: Spread | None = None
    baseline_cpu_us: Spread | None = None

    @property
    def cpu_ratio(self) -> float | None:
        """Candidate ÷ ceiling CPU per operation: the figure to optimise when rates are noisy."""
        if self.cpu_us is None or not self.baseline_cpu_us or not self.baseline_cpu_us.median:
            return None
        return self.cpu_us.median / self.baseline_cpu_us.median

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_ratio": self.cpu_ratio}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Measured:
    """One round of load against one server: what wrk saw and the CPU the server used."""

    wrk: WrkResult
    cpu: CpuUse

    @property
    def cpu_us(self) -> float:
        return self.cpu.per_op_us(self.wrk.requests)


def run_once(url: str, lines: list[tuple[dict[str, str], str]], *, connections: int) -> WrkResult:
    """Every line sent once (never a body twice), timed until the last is answered."""
    result = run_wrk(url, lines, connections=connections, seconds=ONCE_CAP_SECONDS, once=True)
    if result.requests > len(lines):
        raise RuntimeError(f"{result.requests} requests but only {len(lines)} distinct bodies")
    return result


def measure_once(
    server: Process,
    path: str,
    lines: list[tuple[dict[str, str], str]],
    *,
    connections: int,
    database_url: str | None = None,
) -> Measured:
    """``run_once`` against ``server``, once it has finished starting, with the CPU its
    process tree (and, on PostgreSQL, the database's backends) used meanwhile."""
    wait_until_idle(server.popen.pid)
    with CpuMeter([server.popen.pid], database_url) as meter:
        result = run_once(server.url + path, lines, connections=connections)
    return Measured(result, meter.use)


def bare_endpoint_round(size: Size, tag: str) -> WrkResult:
    """A bare Flask 204 endpoint under the connector's gunicorn options (``bench.ceiling``)."""
    events = signed_events(size.events, tag=tag)
    with Process(["-m", "bench.baseline", "--port", "{port}"]) as base:
        # The bare endpoint keeps nothing, so it may see a body twice; ours never does.
        url = f"{base.url}/v1/webhooks/retell"
        return run_wrk(url, events, connections=16, seconds=size.seconds)


def upstream() -> Process:
    """A fresh P2 upstream (the sandbox answering after 100 ms)."""
    return Process(["-m", "bench.upstream", "--port", "{port}", "--latency-ms", "100"])


def direct_upstream_round(size: Size) -> WrkResult:
    """The P2 upstream answered directly by wrk, with nothing in between."""
    calls = create_call_requests(size.calls)
    with upstream() as up:
        raw = [({"Authorization": f"Bearer {RETELL_KEY}"}, body) for _headers, body in calls]
        return run_wrk(f"{up.url}/v2/create-phone-call", raw, connections=64, seconds=size.seconds)


class Receiver:
    """The subscriber (``bench.receiver``); ``arrivals`` stops it and reads what came."""

    def __init__(self) -> None:
        self.out = Path(tempfile.mkdtemp(prefix="bench-recv-")) / "arrivals.jsonl"
        self.process = Process(["-m", "bench.receiver", "--port", "{port}", "--out", str(self.out)])

    def arrivals(self) -> list[tuple[float, str, str, str]]:
        """(arrival, webhook-id, created_at, path) of every delivery, in arrival order."""
        self.process.stop()
        rows = [json.loads(line) for line in self.out.read_text().splitlines()]
        return [(float(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def wait_for_deliveries(database_url: str, timeout: float) -> None:
    """Until the outbox is empty (read straight from the store, not through the API)."""
    engine = create_store_engine(database_url, create_tables=False)
    queue = DeliveryQueue(engine, schedule=(1.0,))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if queue.pending_count() == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("deliveries did not finish")
    finally:
        engine.dispose()


def stored_events(database_url: str) -> int:
    """How many events the store holds (read straight from it, not through the API)."""
    engine = create_store_engine(database_url, create_tables=False)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())
    finally:
        engine.dispose()


def iso_seconds(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


P4_BATCH = 10_000  # events per wrk run, each batch signed just before it is sent
P4_CONNECTIONS = 16


def p4_memory(size: Size) -> Metric:
    """Resident memory of ``serve`` (ingesting and delivering every event to one subscriber)
    after the first and second event counts, each read once the outbox has drained.

    The run is bound by ``serve``'s CPU: each event costs it about 2.7 ms (ingest ~1.3 ms,
    delivery ~1.4 ms, measured on a loaded machine), so 100,000 events need ~270 CPU-seconds
    of the machine's two cores whatever sends them; more connections do not make it faster
    and keep more request threads' memory resident (64 instead of 16: +35-50 MiB), which
    is not what P4 is about. ``cpu_us`` is that CPU per event."""
    receiver = Receiver()
    readings: dict[int, float] = {}
    database = fresh_database(None)
    errors = 0
    with connector(database) as server, CpuMeter([server.popen.pid]) as cpu:
        subscribe(server, f"{receiver.process.url}/hook")
        started, sent = time.monotonic(), 0
        for target in size.memory_steps:
            while sent < target:
                # ``run_once`` leaves its last ``connections`` lines unsent: they are spare.
                count = min(P4_BATCH, target - sent) + P4_CONNECTIONS
                batch = signed_events(count, tag=f"p4{sent}")
                url = f"{server.url}/v1/webhooks/retell"
                result = run_once(url, batch, connections=P4_CONNECTIONS)
                sent += result.requests
                errors += result.errors + result.non2xx
            wait_for_deliveries(database, 600)
            readings[target] = server.rss_mib
        seconds = time.monotonic() - started
    delivered = len(receiver.arrivals())
    stored = stored_events(database)
    first, second = (readings[s] for s in size.memory_steps)
    growth = second / first - 1
    return Metric(
        f"P4 memory ({size.memory_steps[0]:,} → {size.memory_steps[1]:,} events)",
        second,
        "MiB",
        first,
        second / first,
        "growth ≤ 10 %",
        growth <= 0.10 and errors == 0,
        {
            "growth_percent": growth * 100,
            "events_stored": stored,
            "delivered": delivered,
            "errors": errors,
            "events_per_s": stored / seconds,
        },
        cpu_us=Spread.of([cpu.use.per_op_us(stored)]),
    )


def p5_demo() -> Metric:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "connector.cli", "demo"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    seconds = time.perf_counter() - started
    return Metric("P5 demo", seconds, "s", None, None, "≤ 15 s", seconds <= 15)
