"""P2 action proxy: Create Phone Call through the connector against a 100 ms upstream.

Two measurements:

- **saturated** (64 connections, every call distinct, wrk): connector req/s ÷ the
  pass-through-proxy ceiling's (``bench.stripped`` serve-proxy), rounds interleaved, each
  server against a fresh upstream; CPU per call of each server's process tree beside it.
  The added latency at saturation stays reported, not as a goal.
- **steady** (``bench.paced``: 50 calls/s spread over 16 kept-alive connections, far below
  saturation, as a campaign or a busy Zap sends them; on the same connector and upstream,
  right after the saturated round): the latency the connector adds to
  each call, which is the client's latency minus the time the connector itself waited for
  Retell (``Server-Timing: retell;dur=``, on every answer that called Retell), minus the
  generator's own floor (its median latency against an endpoint that answers at once).
"""

from __future__ import annotations

from bench.cpu import CpuMeter
from bench.metrics import Measured, Metric, Size, measure_once, upstream
from bench.paced import Answer, run_paced
from bench.procs import Process
from bench.servers import connector, fresh_database
from bench.spread import Spread, percentile
from bench.workload import create_call_requests, signed_events

__all__ = ["RATIO_GOAL", "p2_action_proxy"]

RATIO_GOAL = 0.85
STEADY_RATE = 50.0
STEADY_CONNECTIONS = 16
ADDED_P50_GOAL_MS = 5.0
ADDED_P99_GOAL_MS = 20.0
PATH = "/v1/actions/create-phone-call"
WARM_UP = 50  # the first second of a steady round is not counted: a new server's first
# requests on each thread build what later ones reuse, which is not the steady state


def _connector_round(size: Size) -> tuple[Measured, float, list[Answer]]:
    """The connector against a fresh upstream, saturated (with the upstream's CPU per call),
    then, on the same two servers, at the steady rate (the first ``WARM_UP`` not counted)."""
    with (
        upstream() as up,
        connector(fresh_database(None), retell_base_url=up.url) as server,
    ):
        with CpuMeter([up.popen.pid]) as upstream_cpu:
            calls = create_call_requests(size.calls)
            measured = measure_once(server, PATH, calls, connections=64)
        steady = create_call_requests(WARM_UP + size.steady_calls)
        answers = run_paced(
            server.url + PATH, steady, rate=STEADY_RATE, connections=STEADY_CONNECTIONS
        )
    return measured, upstream_cpu.use.per_op_us(measured.wrk.requests), answers[WARM_UP:]


def _ceiling_round(size: Size) -> Measured:
    # No connector token: the proxy adds the upstream's key itself.
    calls: list[tuple[dict[str, str], str]] = [
        ({}, body) for _headers, body in create_call_requests(size.calls)
    ]
    with upstream() as up:
        args = ["-m", "bench.stripped", "serve-proxy", "--port", "{port}", "--upstream", up.url]
        with Process(args) as server:
            return measure_once(server, PATH, calls, connections=64)


def generator_floor(count: int) -> float:
    """The paced generator's median latency against ``bench.receiver`` (answers at once)."""
    lines = signed_events(count, tag="floor")
    args = ["-m", "bench.receiver", "--port", "{port}", "--out", "/dev/null"]
    with Process(args) as instant:
        answers = run_paced(
            f"{instant.url}/floor", lines, rate=STEADY_RATE, connections=STEADY_CONNECTIONS
        )
    return percentile((a.ms for a in answers), 0.5)


def _added(answers: list[Answer], floor_ms: float) -> list[float]:
    if any(a.retell_ms is None or a.status >= 300 for a in answers):
        bad = sum(1 for a in answers if a.retell_ms is None or a.status >= 300)
        raise RuntimeError(f"{bad} steady answers failed or carried no Server-Timing")
    return [a.ms - (a.retell_ms or 0.0) - floor_ms for a in answers]


def p2_action_proxy(size: Size) -> Metric:
    ours: list[Measured] = []
    upstream_cpu: list[float] = []
    ceiling: list[Measured] = []
    answers: list[list[Answer]] = []
    for _ in range(size.rounds):
        ceiling.append(_ceiling_round(size))
        measured, up_cpu, steady_answers = _connector_round(size)
        ours.append(measured)
        upstream_cpu.append(up_cpu)
        answers.append(steady_answers)
    if any(not m.wrk.upstream_ms for m in ours):
        raise RuntimeError("the connector's answers carried no Server-Timing")
    floor = generator_floor(max(50, size.steady_calls // 4))
    steady = [_added(round_answers, floor) for round_answers in answers]
    steady_p50 = Spread.of(percentile(added, 0.5) for added in steady)
    steady_p99 = Spread.of(percentile(added, 0.99) for added in steady)
    rps = Spread.of(m.wrk.rps for m in ours)
    ceiling_rps = Spread.of(m.wrk.rps for m in ceiling)
    ratio = rps.median / ceiling_rps.median
    passed = (
        ratio >= RATIO_GOAL
        and steady_p50.median <= ADDED_P50_GOAL_MS
        and steady_p99.median <= ADDED_P99_GOAL_MS
    )
    return Metric(
        "P2 action proxy",
        rps.median,
        "req/s",
        ceiling_rps.median,
        ratio,
        f"ratio ≥ {RATIO_GOAL}; added at {STEADY_RATE:.0f}/s: p50 ≤ {ADDED_P50_GOAL_MS:.0f} ms,"
        f" p99 ≤ {ADDED_P99_GOAL_MS:.0f} ms",
        passed,
        {
            "steady_added_p50_ms": steady_p50,
            "steady_added_p99_ms": steady_p99,
            "steady_calls": sum(len(added) for added in steady),
            "generator_floor_p50_ms": floor,
            # At saturation: the connector's latency minus the upstream's for the same calls.
            "saturated_added_p50_ms": Spread.of(
                m.wrk.p50_ms - percentile(m.wrk.upstream_ms, 0.5) for m in ours
            ),
            "saturated_added_p99_ms": Spread.of(
                m.wrk.p99_ms - percentile(m.wrk.upstream_ms, 0.99) for m in ours
            ),
            "connector_p50_ms": Spread.of(m.wrk.p50_ms for m in ours),
            "ceiling_p50_ms": Spread.of(m.wrk.p50_ms for m in ceiling),
            "upstream_cpu_us": Spread.of(upstream_cpu),
            "errors": sum(m.wrk.errors + m.wrk.non2xx for m in ours + ceiling),
        },
        spread=rps,
        ratio_spread=Spread.of(a.wrk.rps / b.wrk.rps for a, b in zip(ours, ceiling, strict=True)),
        cpu_us=Spread.of(m.cpu_us for m in ours),
        baseline_cpu_us=Spread.of(m.cpu_us for m in ceiling),
    )
