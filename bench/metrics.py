"""P1-P5 (issue 5): each returns a ``Metric`` with its value, baseline, ratio and goal."""

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

import httpx
from sqlalchemy import func, select

from bench.procs import Process
from bench.servers import connector, fresh_database, subscribe, worker
from bench.workload import RETELL_KEY, create_call_requests, signed_events
from bench.wrk import WrkResult, run_wrk
from connector.store.engine import create_store_engine
from connector.store.outbox import DeliveryQueue
from connector.store.tables import events

__all__ = [
    "P2_IDEAL_RPS",
    "Metric",
    "Size",
    "bare_endpoint_round",
    "direct_upstream_round",
    "median",
    "run_once",
    "stored_events",
    "upstream",
]

# A run that sends every distinct request once ends when the last is answered; this only
# bounds a run that hangs (the rate is always taken over the span actually used).
ONCE_CAP_SECONDS = 300
P2_IDEAL_RPS = 64 / 0.1  # 64 connections, each answered after exactly 100 ms


@dataclass(frozen=True)
class Size:
    """How big a run is: ``--quick`` shrinks everything."""

    rounds: int
    seconds: float
    events: int
    calls: int
    fanout_events: int  # P3 with ten subscribers: ten deliveries each
    paced_events: int
    memory_steps: tuple[int, int]


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    goal: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def run_once(url: str, lines: list[tuple[dict[str, str], str]], *, connections: int) -> WrkResult:
    """Every line sent once (never a body twice), timed until the last is answered."""
    result = run_wrk(url, lines, connections=connections, seconds=ONCE_CAP_SECONDS, once=True)
    if result.requests > len(lines):
        raise RuntimeError(f"{result.requests} requests but only {len(lines)} distinct bodies")
    return result


def bare_endpoint_round(size: Size, tag: str) -> WrkResult:
    """P1's baseline: the bare Flask 204 endpoint under the connector's gunicorn options."""
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


def p1_ingest(size: Size, postgres_url: str | None) -> Metric:
    """Signed, verified, committed webhooks/s ÷ a bare 204 endpoint, 16 connections."""
    label = "postgresql" if postgres_url else "sqlite"
    ours: list[WrkResult] = []
    bare: list[WrkResult] = []
    for round_ in range(size.rounds):  # interleaved: baseline, candidate, baseline, ...
        bare.append(bare_endpoint_round(size, tag=f"p1b{round_}"))
        events = signed_events(size.events, tag=f"p1c{round_}")
        with connector(fresh_database(postgres_url)) as server:
            ours.append(run_once(f"{server.url}/v1/webhooks/retell", events, connections=16))
    rps, base_rps = median([r.rps for r in ours]), median([r.rps for r in bare])
    p99 = median([r.p99_ms for r in ours])
    ratio = rps / base_rps
    return Metric(
        f"P1 ingest ({label})",
        rps,
        "req/s",
        base_rps,
        ratio,
        "ratio ≥ 0.80; p99 ≤ 100 ms",
        ratio >= 0.80 and p99 <= 100,
        {
            "p50_ms": median([r.p50_ms for r in ours]),
            "p99_ms": p99,
            "errors": sum(r.errors + r.non2xx for r in ours),
            "baseline_p50_ms": median([r.p50_ms for r in bare]),
        },
    )


def p2_action_proxy(size: Size) -> Metric:
    """Create Phone Call through the connector against a 100 ms upstream, 64 connections."""
    ours: list[WrkResult] = []
    direct: list[WrkResult] = []
    for _ in range(size.rounds):
        # A fresh upstream each round, so that every round starts alike: the sandbox keeps
        # every call it created.
        direct.append(direct_upstream_round(size))
        with (
            upstream() as up,
            connector(fresh_database(None), retell_base_url=up.url) as server,
        ):
            calls = create_call_requests(size.calls)
            url = f"{server.url}/v1/actions/create-phone-call"
            ours.append(run_once(url, calls, connections=64))
    rps = median([r.rps for r in ours])
    if any(not r.upstream_ms for r in ours):
        raise RuntimeError("the connector's answers carried no Server-Timing")
    # Added latency: the connector's latency minus the upstream's, both from the same
    # requests of the same run (Server-Timing), since the upstream slows down when it
    # shares the two cores with the connector.
    upstream_p50 = [_percentile(list(r.upstream_ms), 0.5) for r in ours]
    added_p50 = median([r.p50_ms - up for r, up in zip(ours, upstream_p50, strict=True)])
    added_p99 = median([r.p99_ms - _percentile(list(r.upstream_ms), 0.99) for r in ours])
    ratio = rps / P2_IDEAL_RPS
    return Metric(
        "P2 action proxy",
        rps,
        "req/s",
        P2_IDEAL_RPS,
        ratio,
        "ratio ≥ 0.85; added p50 ≤ 5 ms",
        ratio >= 0.85 and added_p50 <= 5,
        {
            "added_p50_ms": added_p50,
            "added_p99_ms": added_p99,
            "upstream_in_run_p50_ms": median(upstream_p50),
            "connector_p50_ms": median([r.p50_ms for r in ours]),
            "upstream_direct_rps": median([r.rps for r in direct]),
            "upstream_p50_ms": median([r.p50_ms for r in direct]),
            "errors": sum(r.errors + r.non2xx for r in ours),
        },
    )


class _Receiver:
    def __init__(self) -> None:
        self.out = Path(tempfile.mkdtemp(prefix="bench-recv-")) / "arrivals.jsonl"
        self.process = Process(["-m", "bench.receiver", "--port", "{port}", "--out", str(self.out)])

    def arrivals(self) -> list[tuple[float, str, str]]:
        self.process.stop()
        rows = [json.loads(line) for line in self.out.read_text().splitlines()]
        return [(float(a), str(b), str(c)) for a, b, c in rows]


def _wait_for_deliveries(database_url: str, timeout: float) -> None:
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


def _iso_seconds(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], fraction: float) -> float:
    return sorted(values)[int(fraction * (len(values) - 1))]


def p3_forwarding(size: Size, postgres_url: str | None, subscribers: int) -> Metric:
    """Deliveries/s from committed events, and commit → first delivery attempt latency.

    Throughput: a burst is ingested by ``serve`` with delivery off, so every event is
    committed first; then two ``retell-connector worker`` processes (as many delivery loops
    as ``serve`` runs) drain the outbox. Latency: events at a steady pace (one per 20 ms)
    through a normal ``serve``, measured from ``created_at`` (stamped just before the ingest
    commit) to the subscriber's receipt.
    """
    label = "postgresql" if postgres_url else "sqlite"
    receiver = _Receiver()
    database = fresh_database(postgres_url)
    with connector(database, deliver=False) as server:
        for _ in range(subscribers):
            subscribe(server, f"{receiver.process.url}/hook")
        burst = signed_events(size.events if subscribers == 1 else size.fanout_events, tag="p3b")
        url = f"{server.url}/v1/webhooks/retell"
        run_once(url, burst, connections=16)
    accepted = stored_events(database)  # including any answered after wrk stopped counting
    started = time.time()
    workers = [worker(database), worker(database)]
    try:
        _wait_for_deliveries(database, 600)
    finally:
        for process in workers:
            process.stop()
    with connector(database) as server:
        with httpx.Client() as http:
            for headers, body in signed_events(size.paced_events, tag="p3p"):
                headers = {**headers, "content-type": "application/json"}
                http.post(f"{server.url}/v1/webhooks/retell", content=body, headers=headers)
                time.sleep(0.02)
        _wait_for_deliveries(database, 60)
    arrivals = receiver.arrivals()
    burst_n = len({(wid) for _a, wid, _c in arrivals}) - size.paced_events
    burst_times = [a for a, _wid, _c in arrivals[: len(arrivals) - size.paced_events * subscribers]]
    rate = len(burst_times) / (max(burst_times) - started)
    paced = arrivals[len(arrivals) - size.paced_events * subscribers :]
    latencies = [(a - _iso_seconds(c)) * 1000 for a, _wid, c in paced]
    p95 = _percentile(latencies, 0.95)
    return Metric(
        f"P3 forwarding ({label}, {subscribers} subscriber{'s' if subscribers > 1 else ''})",
        rate,
        "deliveries/s",
        None,
        None,
        "≥ 1,000 deliveries/s; p95 ≤ 250 ms",
        rate >= 1000 and p95 <= 250,
        {
            "p50_ms": _percentile(latencies, 0.5),
            "p95_ms": p95,
            "p99_ms": _percentile(latencies, 0.99),
            "events": accepted,
            "deliveries": len(burst_times),
            "expected": accepted * subscribers,
            "distinct_event_ids": burst_n,
        },
    )


def p4_memory(size: Size) -> Metric:
    """Resident memory of the serving processes after the first and second event counts."""
    receiver = _Receiver()
    readings: dict[int, float] = {}
    database = fresh_database(None)
    with connector(database) as server:
        subscribe(server, f"{receiver.process.url}/hook")
        sent = 0
        for target in size.memory_steps:
            while sent < target:
                batch = signed_events(min(10_000, target - sent), tag=f"p4{sent}")
                run_once(f"{server.url}/v1/webhooks/retell", batch, connections=16)
                sent += len(batch)
            _wait_for_deliveries(database, 600)
            readings[target] = server.rss_mib
    receiver.arrivals()
    first, second = (readings[s] for s in size.memory_steps)
    growth = second / first - 1
    return Metric(
        f"P4 memory ({size.memory_steps[0]:,} → {size.memory_steps[1]:,} events)",
        second,
        "MiB",
        first,
        second / first,
        "growth ≤ 10 %",
        growth <= 0.10,
        {"growth_percent": growth * 100},
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
