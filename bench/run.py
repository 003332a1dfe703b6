"""``python -m bench [--quick] [--only P1,P3]``: run the benchmarks, print a table, and write
``bench/results/latest.json`` (value, baseline, ratio, goal, pass/fail, machine info)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import NamedTuple

from bench.campaign import p6_campaign_pacing
from bench.console import c_console_pages
from bench.forwarding import p3_forwarding
from bench.inbound import p7_inbound_answer
from bench.ingest import p1_ingest
from bench.metrics import Metric, Size, p4_memory, p5_demo
from bench.proxy import p2_action_proxy
from bench.spread import Spread
from bench.wrk import ensure_wrk

RESULTS = Path(__file__).resolve().parent / "results"
FULL = Size(
    rounds=3,
    seconds=6,
    events=4_000,
    ingest_rounds=5,
    calls=1_000,
    steady_calls=400,
    burst_events=1_500,
    fanout_events=200,
    paced_events=150,
    memory_steps=(10_000, 100_000),
    campaign_calls=300,
    campaign_call_seconds=1.0,
    inbound_calls=250,
    console_deliveries=100_000,
)
QUICK = Size(
    rounds=1,
    seconds=1,
    events=200,
    ingest_rounds=1,
    calls=100,
    steady_calls=20,
    burst_events=100,
    fanout_events=20,
    paced_events=10,
    memory_steps=(100, 300),
    campaign_calls=20,
    campaign_call_seconds=0.4,
    inbound_calls=20,
    console_deliveries=2_000,
)


class Step(NamedTuple):
    """One line of the plan. ``--quick`` only checks that every metric's code runs, so it
    runs its lanes side by side (each lane's steps one after another); a full run never
    overlaps two steps. Lane 0 holds every step on PostgreSQL (they share one database) and
    both of C's (C runs the console in this process); the others start servers of their own
    on fresh SQLite files."""

    metric: str  # the id ``--only`` picks
    measure: Callable[[], Metric]
    lane: int


def _plan(size: Size, postgres_url: str | None) -> list[Step]:
    stores: list[str | None] = [None, postgres_url] if postgres_url else [None]
    plan = [Step("P1", partial(p1_ingest, size, url), 0 if url else 1) for url in stores]
    plan.append(Step("P2", partial(p2_action_proxy, size), 2))
    forwarding = [(url, n) for url in stores for n in (1, 10)]
    if size == QUICK:  # each store and each fan-out once: the same code runs all four
        forwarding = [(None, 1), (stores[-1], 10)]
    plan += [
        Step("P3", partial(p3_forwarding, size, url, n), 0 if url else 1) for url, n in forwarding
    ]
    plan += [
        Step("P4", partial(p4_memory, size), 1),
        Step("P5", p5_demo, 2),
        Step("P6", partial(p6_campaign_pacing, size), 2),
        Step("P7", partial(p7_inbound_answer, size), 2),
    ]
    plan += [Step("C", partial(c_console_pages, size, url), 0) for url in stores]
    return plan


def _figure(value: float | None, spread: Spread | None = None, digits: int = 1) -> str:
    if spread is not None:
        low, high = f"{spread.low:,.{digits}f}", f"{spread.high:,.{digits}f}"
        text = f"{value:,.{digits}f}" if value is not None else "-"
        return text if low == high else f"{text} ({low}-{high})"
    return "-" if value is None else f"{value:,.{digits}f}"


def _detail(value: object) -> str:
    if isinstance(value, Spread):
        return value.text()
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def table(metrics: list[Metric]) -> str:
    """The report as a Markdown table; a figure in brackets is its lowest-highest round."""
    rows = [
        "| metric | value | ceiling | ratio | CPU µs/op | ceiling CPU µs/op | CPU ratio | goal"
        " | met | details |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in metrics:
        details = ", ".join(f"{k} {_detail(v)}" for k, v in m.details.items())
        cpu = m.cpu_us.text(0) if m.cpu_us else "-"
        base_cpu = m.baseline_cpu_us.text(0) if m.baseline_cpu_us else "-"
        rows.append(
            f"| {m.name} | {_figure(m.value, m.spread, 2 if m.value < 10 else 1)} {m.unit}"
            f" | {_figure(m.baseline)}"
            f" | {_figure(m.ratio, m.ratio_spread, 2)} | {cpu} | {base_cpu}"
            f" | {_figure(m.cpu_ratio, None, 2)} | {m.goal} | {'yes' if m.passed else 'NO'}"
            f" | {details} |"
        )
    return "\n".join(rows)


def _measure(steps: list[Step], *, lanes: bool) -> tuple[list[Metric], dict[str, float]]:
    """Run ``steps`` one after another, or (``lanes``) each lane's in order with the lanes
    side by side; print each metric's row when it is measured. The metrics in plan order, and
    the seconds each took (where a run's minutes go, to keep it within ten)."""
    done: dict[int, tuple[Metric, float]] = {}

    def run(indices: list[int]) -> None:
        for index in indices:
            began = time.monotonic()
            metric = steps[index].measure()
            done[index] = (metric, round(time.monotonic() - began, 1))
            print(f"{table([metric]).splitlines()[-1]} ({done[index][1]} s)", flush=True)

    if not lanes:
        run(list(range(len(steps))))
    else:
        by_lane: dict[int, list[int]] = {}
        for index, step in enumerate(steps):
            by_lane.setdefault(step.lane, []).append(index)
        with ThreadPoolExecutor(len(by_lane)) as pool:
            for lane in [pool.submit(run, indices) for indices in by_lane.values()]:
                lane.result()
    ordered = [done[index] for index in sorted(done)]
    return [metric for metric, _ in ordered], {metric.name: s for metric, s in ordered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="every metric at reduced size, to check the harness"
    )
    parser.add_argument("--only", default="", help="comma-separated metric ids, e.g. P1,P3")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    ensure_wrk()
    size = QUICK if args.quick else FULL
    postgres_url = os.environ.get("CONNECTOR_TEST_DATABASE_URL") or None
    wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    started = time.monotonic()
    steps = [step for step in _plan(size, postgres_url) if not wanted or step.metric in wanted]
    metrics, durations = _measure(steps, lanes=args.quick)
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
        "metric_seconds": durations,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(metrics))
    print(f"\n{len(metrics)} metrics in {report['seconds']} s; written to {args.out}")
    return 0
