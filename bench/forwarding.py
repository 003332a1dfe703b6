"""P3 forwarding: deliveries/s ÷ the stripped sender's, and commit → first attempt latency.

Throughput, both sides on one store and one receiver: every subscription exists twice, one
set for the connector (``/connector/<n>`` on the receiver) and one for the stripped sender
(``/ceiling/<n>``, ``bench.stripped`` send). Each round stores a burst of events through
the connector's own ``EventInbox`` (the code ingest runs) with their deliveries *parked* in
the future; then, for one side at a time (the side that goes first alternates by round),
it starts that side's two processes (``retell-connector worker`` x 2, or two stripped
senders; only one side's run at once, since either would claim any due delivery), waits
until they are up and idle, releases that side's deliveries (due now), measures how fast
they drain them, and stops them. Rate = deliveries ÷ (last arrival -
first arrival), so start-up and the idle poll are not counted; CPU per delivery is the
side's process trees (and PostgreSQL's backends of the database) from release to drained.

Latency: events at a steady pace (one per 20 ms) through a normal ``serve``, from the
event's ``created_at`` (stamped just before the ingest commit) to the subscriber's receipt.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, func, select, update

from bench.cpu import CpuMeter, CpuUse
from bench.metrics import Metric, Receiver, Size, iso_seconds, wait_for_deliveries
from bench.procs import Process, stop_all
from bench.servers import connector, fresh_database, worker
from bench.spread import Spread, percentile
from bench.workload import distinct_calls, signed_events
from connector.store.engine import create_store_engine
from connector.store.inbox import EventInbox
from connector.store.subscriptions import SubscriptionStore
from connector.store.tables import deliveries

__all__ = ["RATIO_GOAL", "p3_forwarding"]

RATIO_GOAL = 0.80
P95_GOAL_MS = 250.0
PARK_SECONDS = 10 * 86_400  # deliveries stored this far in the future wait to be released
OWNER = "bench"
SIDES = ("connector", "ceiling")


@dataclass(frozen=True)
class _Drain:
    deliveries: int
    distinct: int
    rate: float
    cpu: CpuUse

    @property
    def cpu_us(self) -> float:
        return self.cpu.per_op_us(self.deliveries)


def _store_burst(engine: Engine, count: int, tag: str) -> None:
    """``count`` events with their deliveries, committed as ingest commits them, parked."""
    inbox = EventInbox(engine, clock=lambda: time.time() + PARK_SECONDS)
    calls = distinct_calls(count, tag=tag)
    with ThreadPoolExecutor(16) as pool:  # concurrent, so that events share commits
        list(pool.map(lambda call: inbox.accept("call_ended", call), calls))


def _pending(engine: Engine, subscription_ids: list[str]) -> int:
    c = deliveries.c
    query = select(func.count()).where(
        c.subscription_id.in_(subscription_ids), c.state.in_(("pending", "delivering"))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _drain(
    engine: Engine,
    database: str,
    processes: list[Process],
    subscription_ids: list[str],
) -> tuple[float, float, CpuUse]:
    """Release one side's deliveries and wait until they are drained; (start, end, CPU)."""
    with CpuMeter([p.popen.pid for p in processes], database) as meter:
        started = time.time()
        with engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.subscription_id.in_(subscription_ids),
                    deliveries.c.state == "pending",
                )
                .values(next_attempt_at=started)
            )
        deadline = time.monotonic() + 600
        while _pending(engine, subscription_ids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"deliveries did not drain: {processes[0].log_tail()}")
            time.sleep(0.05)
    return started, time.time(), meter.use


def _start(side: str, database: str) -> list[Process]:
    """Two delivery processes of ``side``, running (idle while the deliveries are parked)."""
    if side == "connector":
        processes = [worker(database), worker(database)]
    else:
        command = ["-m", "bench.stripped", "send", "--database", database]
        processes = [Process(command, ready="") for _ in range(2)]
    for process in processes:
        process.wait_for_output("running")
    return processes


def _paced_latency(database: str, size: Size) -> float:
    """Events at a steady pace through ``serve`` with delivery on; returns when it began."""
    started = time.time()
    with connector(database) as server, httpx.Client() as http:
        for headers, body in signed_events(size.paced_events, tag="p3p"):
            headers = {**headers, "content-type": "application/json"}
            http.post(f"{server.url}/v1/webhooks/retell", content=body, headers=headers)
            time.sleep(0.02)
        wait_for_deliveries(database, 60)
    return started


def p3_forwarding(size: Size, postgres_url: str | None, subscribers: int) -> Metric:
    label = "postgresql" if postgres_url else "sqlite"
    count = size.burst_events if subscribers == 1 else size.fanout_events
    receiver = Receiver()
    database = fresh_database(postgres_url)
    engine = create_store_engine(database)
    store = SubscriptionStore(engine)
    subs = {
        side: [
            store.create(OWNER, f"{receiver.process.url}/{side}/{n}", ["call_ended"], None).id
            for n in range(subscribers)
        ]
        for side in SIDES
    }
    windows: dict[str, list[tuple[float, float, CpuUse]]] = {side: [] for side in SIDES}
    for round_ in range(size.rounds):
        _store_burst(engine, count, tag=f"p3{label[0]}{subscribers}r{round_}")
        for side in SIDES if round_ % 2 else SIDES[::-1]:
            # Only this side's processes run: any of them would claim any due delivery.
            processes = _start(side, database)
            try:
                windows[side].append(_drain(engine, database, processes, subs[side]))
            finally:
                stop_all(processes)
    for subscription_id in subs["ceiling"]:  # the latency run delivers to the connector's only
        store.delete(OWNER, subscription_id)
    engine.dispose()
    paced_from = _paced_latency(database, size)
    arrivals = receiver.arrivals()

    drains: dict[str, list[_Drain]] = {side: [] for side in SIDES}
    for side in SIDES:
        for start, end, cpu in windows[side]:
            mine = [a for a in arrivals if a[3].startswith(f"/{side}/") and start <= a[0] <= end]
            times = [a[0] for a in mine]
            span = max(times) - min(times) if len(times) > 1 else 0.0
            per_second = (len(times) - 1) / span if span else 0.0
            distinct = len({(a[1], a[3]) for a in mine})
            drains[side].append(_Drain(len(mine), distinct, per_second, cpu))
    paced = [a for a in arrivals if a[0] >= paced_from and a[3].startswith("/connector/")]
    latencies = [(arrived - iso_seconds(created)) * 1000 for arrived, _id, created, _p in paced]
    p95 = percentile(latencies, 0.95)
    ours, ceiling = drains["connector"], drains["ceiling"]
    rate = Spread.of(d.rate for d in ours)
    ceiling_rate = Spread.of(d.rate for d in ceiling)
    ratio = rate.median / ceiling_rate.median
    expected = count * subscribers * size.rounds
    return Metric(
        f"P3 forwarding ({label}, {subscribers} subscriber{'s' if subscribers > 1 else ''})",
        rate.median,
        "deliveries/s",
        ceiling_rate.median,
        ratio,
        f"ratio ≥ {RATIO_GOAL}; commit → first attempt p95 ≤ {P95_GOAL_MS:.0f} ms",
        ratio >= RATIO_GOAL and p95 <= P95_GOAL_MS,
        {
            "p50_ms": percentile(latencies, 0.5),
            "p95_ms": p95,
            "p99_ms": percentile(latencies, 0.99),
            "paced_deliveries": len(paced),
            "expected": expected,
            "delivered": sum(d.deliveries for d in ours),
            "distinct": sum(d.distinct for d in ours),
            "ceiling_delivered": sum(d.deliveries for d in ceiling),
        },
        spread=rate,
        ratio_spread=Spread.of(a.rate / b.rate for a, b in zip(ours, ceiling, strict=True)),
        cpu_us=Spread.of(d.cpu_us for d in ours),
        baseline_cpu_us=Spread.of(d.cpu_us for d in ceiling),
    )
