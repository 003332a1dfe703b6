"""``python -m bench.ceiling [--quick]``: what this stack can reach at all, against fixed bars.

The ceiling programs (``bench.stripped``: the connector's work stripped to what it cannot do
without, under the connector's gunicorn options) are measured exactly as P1 and P2 measure
the connector, against the first round's baselines: the ingest ceiling against a bare
Flask endpoint answering 204, the proxy ceiling against the ideal of 64 connections ÷ 0.1 s.
This bounds what any connector built on CPython, gunicorn's gthread workers, httpx and
SQLite can reach on this machine; ``python -m bench`` states its goals against the same
ceilings, measured in its own run. The report goes to ``bench/results/ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import run
from bench.ingest import ingest_ceiling
from bench.metrics import (
    P2_IDEAL_RPS,
    Measured,
    Metric,
    Size,
    bare_endpoint_round,
    direct_upstream_round,
    measure_once,
    upstream,
)
from bench.procs import Process
from bench.spread import Spread
from bench.workload import create_call_requests
from bench.wrk import WrkResult, ensure_wrk

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results" / "ceiling.json"


def _ingest_ceiling(size: Size) -> Metric:
    ceiling: list[Measured] = []
    bare: list[WrkResult] = []
    for round_ in range(size.rounds):
        bare.append(bare_endpoint_round(size, tag=f"cb{round_}"))
        ceiling.append(ingest_ceiling(size, None, tag=f"cc{round_}"))
    rps = Spread.of(m.wrk.rps for m in ceiling)
    base_rps = Spread.of(r.rps for r in bare)
    return Metric(
        "P1 ceiling: verify, parse, build, commit (raw WSGI + sqlite3)",
        rps.median,
        "req/s",
        base_rps.median,
        rps.median / base_rps.median,
        "the first round's P1 goal: ≥ 0.80 of a bare Flask endpoint",
        rps.median / base_rps.median >= 0.80,
        {
            "p50_ms": Spread.of(m.wrk.p50_ms for m in ceiling),
            "non2xx": sum(m.wrk.non2xx for m in ceiling),
            "bare_rps": base_rps,
        },
        spread=rps,
        cpu_us=Spread.of(m.cpu_us for m in ceiling),
    )


def _proxy_ceiling(size: Size) -> Metric:
    ceiling: list[Measured] = []
    direct: list[WrkResult] = []
    for _ in range(size.rounds):
        direct.append(direct_upstream_round(size))
        # No connector token: the proxy adds the upstream's key itself.
        calls: list[tuple[dict[str, str], str]] = [
            ({}, body) for _headers, body in create_call_requests(size.calls)
        ]
        with upstream() as up:
            proxy = [
                "-m",
                "bench.stripped",
                "serve-proxy",
                "--port",
                "{port}",
                "--upstream",
                up.url,
            ]
            with Process(proxy) as server:
                path = "/v1/actions/create-phone-call"
                ceiling.append(measure_once(server, path, calls, connections=64))
    rps = Spread.of(m.wrk.rps for m in ceiling)
    direct_rps = Spread.of(r.rps for r in direct)
    return Metric(
        "P2 ceiling: pass-through proxy (raw WSGI + httpx)",
        rps.median,
        "req/s",
        P2_IDEAL_RPS,
        rps.median / P2_IDEAL_RPS,
        "the first round's P2 goal: ≥ 0.85 of 64 ÷ 0.1 s",
        rps.median / P2_IDEAL_RPS >= 0.85,
        {
            "p50_ms": Spread.of(m.wrk.p50_ms for m in ceiling),
            "non2xx": sum(m.wrk.non2xx for m in ceiling),
            "upstream_direct_rps": direct_rps,
            "upstream_direct_ratio": direct_rps.median / P2_IDEAL_RPS,
        },
        spread=rps,
        cpu_us=Spread.of(m.cpu_us for m in ceiling),
    )


def _measure(quick: bool, out: Path) -> int:
    ensure_wrk()
    size = run.QUICK if quick else run.FULL
    started = time.monotonic()
    metrics = [_ingest_ceiling(size), _proxy_ceiling(size)]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count()},
        "metrics": [m.as_dict() for m in metrics],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(run.table(metrics))
    print(f"\n{len(metrics)} ceilings in {report['seconds']} s; written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return _measure(args.quick, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
