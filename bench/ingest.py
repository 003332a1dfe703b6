"""P1 ingest: signed, verified, committed webhooks/s ÷ the ingest ceiling, 16 connections.

Each round measures the ingest ceiling (``bench.stripped`` serve-ingest: verify, parse,
build, commit with the plain driver) and then the connector (``retell-connector serve``),
each on a fresh database of the same kind, with the same number of distinct signed
webhooks sent once each by wrk; rounds interleave and the medians are reported. CPU per
event is the server's process tree (plus PostgreSQL's backends of the database).
"""

from __future__ import annotations

from bench.metrics import Measured, Metric, Size, measure_once
from bench.procs import Process
from bench.servers import connector, fresh_database
from bench.spread import Spread
from bench.workload import signed_events
from connector.store.engine import create_store_engine

__all__ = ["RATIO_GOAL", "ingest_ceiling", "p1_ingest"]

RATIO_GOAL = 0.85
P99_GOAL_MS = 100.0
PATH = "/v1/webhooks/retell"


def ingest_ceiling(size: Size, postgres_url: str | None, tag: str) -> Measured:
    """One round of the stripped ingest server on a fresh database."""
    database = fresh_database(postgres_url)
    create_store_engine(database).dispose()  # the connector's tables (SQLite: in WAL mode)
    args = ["-m", "bench.stripped", "serve-ingest", "--port", "{port}", "--database", database]
    with Process(args) as server:
        return measure_once(
            server, PATH, signed_events(size.events, tag=tag), connections=16, database_url=database
        )


def p1_ingest(size: Size, postgres_url: str | None) -> Metric:
    label = "postgresql" if postgres_url else "sqlite"
    ours: list[Measured] = []
    ceiling: list[Measured] = []
    for round_ in range(size.ingest_rounds):
        ceiling.append(ingest_ceiling(size, postgres_url, tag=f"p1s{round_}"))
        database = fresh_database(postgres_url)
        with connector(database) as server:
            events = signed_events(size.events, tag=f"p1c{round_}")
            ours.append(measure_once(server, PATH, events, connections=16, database_url=database))
    rps = Spread.of(m.wrk.rps for m in ours)
    ceiling_rps = Spread.of(m.wrk.rps for m in ceiling)
    p99 = Spread.of(m.wrk.p99_ms for m in ours)
    ratio = rps.median / ceiling_rps.median
    details: dict[str, object] = {
        "p50_ms": Spread.of(m.wrk.p50_ms for m in ours),
        "p99_ms": p99,
        "ceiling_p99_ms": Spread.of(m.wrk.p99_ms for m in ceiling),
        "errors": sum(m.wrk.errors + m.wrk.non2xx for m in ours + ceiling),
    }
    if postgres_url:  # the part of the CPU per event that PostgreSQL's backends spent
        details["database_cpu_us"] = Spread.of(
            m.cpu.database_seconds / max(1, m.wrk.requests) * 1e6 for m in ours
        )
    return Metric(
        f"P1 ingest ({label})",
        rps.median,
        "req/s",
        ceiling_rps.median,
        ratio,
        f"ratio ≥ {RATIO_GOAL}; p99 ≤ {P99_GOAL_MS:.0f} ms",
        ratio >= RATIO_GOAL and p99.median <= P99_GOAL_MS,
        details,
        spread=rps,
        ratio_spread=Spread.of(a.wrk.rps / b.wrk.rps for a, b in zip(ours, ceiling, strict=True)),
        cpu_us=Spread.of(m.cpu_us for m in ours),
        baseline_cpu_us=Spread.of(m.cpu_us for m in ceiling),
    )
