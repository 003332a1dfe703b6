"""``python -m bench [--quick] [--only P1,P3]``: run the benchmarks, print a table, and write
``bench/results/latest.json`` (value, baseline, ratio, goal, pass/fail, machine info)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.metrics import (
    Metric,
    Size,
    p1_ingest,
    p2_action_proxy,
    p3_forwarding,
    p4_memory,
    p5_demo,
)
from bench.wrk import ensure_wrk

RESULTS = Path(__file__).resolve().parent / "results"
# Every throughput run is a few seconds of load at least, even on a slow day. The full run
# with PostgreSQL took 484 s on a normal day of this machine and 692 s on a slow one; P4's
# 100,000 events are about a third of it.
FULL = Size(
    rounds=3,
    seconds=6,
    events=5_000,
    calls=3_000,
    fanout_events=2_000,
    paced_events=250,
    memory_steps=(10_000, 100_000),
)
QUICK = Size(
    rounds=1,
    seconds=4,
    events=600,
    calls=600,
    fanout_events=600,
    paced_events=25,
    memory_steps=(1_000, 3_000),
)


def _plan(size: Size, postgres_url: str | None) -> list[tuple[str, Callable[[], Metric]]]:
    plan: list[tuple[str, Callable[[], Metric]]] = [
        ("P1", lambda: p1_ingest(size, None)),
        ("P2", lambda: p2_action_proxy(size)),
        ("P3", lambda: p3_forwarding(size, None, 1)),
        ("P3", lambda: p3_forwarding(size, None, 10)),
        ("P4", lambda: p4_memory(size)),
        ("P5", p5_demo),
    ]
    if postgres_url:
        plan.insert(1, ("P1", lambda: p1_ingest(size, postgres_url)))
        plan.insert(5, ("P3", lambda: p3_forwarding(size, postgres_url, 1)))
    return plan


def table(metrics: list[Metric]) -> str:
    rows = [
        "| metric | value | baseline | ratio | goal | pass | details |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in metrics:
        baseline = f"{m.baseline:,.1f}" if m.baseline is not None else "-"
        ratio = f"{m.ratio:.2f}" if m.ratio is not None else "-"
        details = ", ".join(
            f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in m.details.items()
        )
        rows.append(
            f"| {m.name} | {m.value:,.1f} {m.unit} | {baseline} | {ratio} | {m.goal} "
            f"| {'yes' if m.passed else 'NO'} | {details} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="every metric at reduced size (< 90 s)"
    )
    parser.add_argument("--only", default="", help="comma-separated metric ids, e.g. P1,P3")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    ensure_wrk()
    size = QUICK if args.quick else FULL
    postgres_url = os.environ.get("CONNECTOR_TEST_DATABASE_URL") or None
    wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    started = time.monotonic()
    metrics = []
    for metric_id, measure in _plan(size, postgres_url):
        if not wanted or metric_id in wanted:
            metrics.append(measure())
            print(table(metrics[-1:]).splitlines()[-1], flush=True)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "seconds": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "metrics": [m.as_dict() for m in metrics],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(metrics))
    print(f"\n{len(metrics)} metrics in {report['seconds']} s; written to {args.out}")
    return 0
