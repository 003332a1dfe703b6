"""The benchmark harness runs end to end (``python -m bench --quick``), so it cannot rot.

Not a timed test: it checks that every metric was measured and reported, not how fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bench.cpu import CpuMeter, tree_pids
from bench.metrics import Size
from bench.run import FULL, QUICK, _plan
from bench.spread import Spread, percentile

# The quick run measures every metric once (half a minute on a quiet machine, its lanes side by
# side; one to two minutes while other work loads it); the module's tests share it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[1]
METRICS = (
    "P1 ingest",
    "P2 action proxy",
    "P3 forwarding",
    "P4 memory",
    "P5 demo",
    "P6 campaign pacing",
    "P7 inbound answer time",
    "C console page",
)
AGAINST_CEILING = ("P1 ingest", "P2 action proxy", "P3 forwarding")
FIELDS = {"name", "value", "unit", "baseline", "ratio", "goal", "passed", "details", "spread"}


def _needs_wrk() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (the bench installs it with apt-get as root)")


def _by_name(report: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [m for m in report["metrics"] if m["name"].startswith(prefix)]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One ``python -m bench --quick`` run shared by the checks below."""
    _needs_wrk()
    out = tmp_path_factory.mktemp("bench") / "latest.json"

    def run() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bench", "--quick", "--out", str(out)]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)

    result = run()
    if result.returncode != 0:  # a load harness on a shared 2-core box: one second chance
        print("first bench run failed:", result.stderr[-3000:])
        result = run()
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text()), result.stdout


def test_quick_benchmark_reports_every_metric(quick_run: tuple[dict[str, Any], str]) -> None:
    """`python -m bench --quick` measures P1-P7 and C and writes a complete report."""
    report, stdout = quick_run
    for metric in METRICS:
        assert _by_name(report, metric), (metric, [m["name"] for m in report["metrics"]])
    for metric in report["metrics"]:
        assert set(metric) >= FIELDS
        assert metric["value"] > 0
    assert report["mode"] == "quick" and report["machine"]["cpus"]
    assert "| P5 demo |" in stdout
    assert set(report["metric_seconds"]) == {m["name"] for m in report["metrics"]}


def test_quick_figures_are_sane(quick_run: tuple[dict[str, Any], str]) -> None:
    """Not measurements, but each within what the code can produce: spreads ordered, CPU per
    operation between 10 µs and a second, no failed request, every count as sized."""
    report, _stdout = quick_run
    for metric in report["metrics"]:
        for key in ("spread", "ratio_spread", "cpu_us", "baseline_cpu_us"):
            if metric.get(key):
                spread = metric[key]
                assert 0 <= spread["low"] <= spread["median"] <= spread["high"], (key, metric)
        if metric["cpu_us"]:
            assert 10 <= metric["cpu_us"]["median"] <= 1e6, metric["name"]
        if "errors" in metric["details"]:
            assert metric["details"]["errors"] == 0, metric["name"]
    (memory,) = _by_name(report, "P4 memory")
    stored, delivered = memory["details"]["events_stored"], memory["details"]["delivered"]
    assert QUICK.memory_steps[1] <= stored <= delivered, memory["details"]
    assert 50 <= memory["baseline"] <= memory["value"] * 1.5, memory  # MiB of a real server
    (proxy,) = _by_name(report, "P2 action proxy")
    assert proxy["details"]["steady_calls"] == QUICK.steady_calls * QUICK.rounds
    assert proxy["details"]["generator_floor_p50_ms"] > 0
    (campaign,) = _by_name(report, "P6 campaign pacing")
    assert 0 < campaign["value"] <= 1.0 + 1e-9
    assert campaign["details"]["sandbox_calls"] == QUICK.campaign_calls
    (inbound,) = _by_name(report, "P7 inbound answer time")
    assert inbound["details"]["answers"] == QUICK.inbound_calls * QUICK.rounds
    for console in _by_name(report, "C console page"):
        assert f"{QUICK.console_deliveries:,} deliveries" in console["name"]
        assert all(v["median"] > 0 for k, v in console["details"].items() if k.endswith(" ms"))


def test_ratios_are_against_a_ceiling_with_cpu_per_operation(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    """P1-P3 carry a ceiling, a ratio and the CPU per operation of both sides."""
    report, _stdout = quick_run
    for prefix in AGAINST_CEILING:
        for metric in _by_name(report, prefix):
            assert metric["baseline"] > 0 and metric["ratio"] > 0, metric["name"]
            assert metric["cpu_us"]["median"] > 0 and metric["baseline_cpu_us"]["median"] > 0
            assert metric["cpu_ratio"] > 0
            assert metric["ratio_spread"]["low"] <= metric["ratio_spread"]["high"]


def test_every_call_and_delivery_is_accounted_for(quick_run: tuple[dict[str, Any], str]) -> None:
    """P3 delivered every event once per subscriber; P6 dialled every queued call once."""
    report, _stdout = quick_run
    for metric in _by_name(report, "P3 forwarding"):
        details = metric["details"]
        assert details["delivered"] == details["distinct"] == details["expected"], details
        assert details["ceiling_delivered"] == details["expected"], details
    (campaign,) = _by_name(report, "P6 campaign pacing")
    assert campaign["details"]["dialled_twice"] == campaign["details"]["never_dialled"] == 0
    assert campaign["details"]["highest"] <= 10
    (inbound,) = _by_name(report, "P7 inbound answer time")
    assert inbound["details"]["not_200"] == 0


@pytest.mark.parametrize("size", [QUICK, FULL], ids=["quick", "full"])
def test_plan_measures_every_metric_and_keeps_postgresql_in_one_lane(size: Size) -> None:
    """Both runs plan every metric, P1, P3 and C on both stores; in ``--quick`` lanes run
    side by side, so every step on PostgreSQL (one database) and C's (the console in this
    process) share lane 0."""
    url = "postgresql+psycopg://unused@127.0.0.1/unused"
    plan = _plan(size, url)
    on_postgresql = [s for s in plan if isinstance(s.measure, partial) and url in s.measure.args]
    assert {step.metric for step in plan} == {"P1", "P2", "P3", "P4", "P5", "P6", "P7", "C"}
    assert {step.metric for step in on_postgresql} == {"P1", "P3", "C"}
    assert all(step.lane == 0 for step in plan if step in on_postgresql or step.metric == "C")


def test_quick_ceiling_reports_both_ceilings(tmp_path: Path) -> None:
    """`python -m bench.ceiling --quick` measures the P1 and P2 ceilings and writes them."""
    _needs_wrk()
    out = tmp_path / "ceiling.json"
    command = [sys.executable, "-m", "bench.ceiling", "--quick", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())["metrics"]
    assert [m["name"].split(":")[0] for m in metrics] == ["P1 ceiling", "P2 ceiling"]
    for metric in metrics:
        assert set(metric) >= FIELDS
        assert metric["value"] > 0 and metric["ratio"] > 0
        assert metric["details"]["non2xx"] == 0


def test_cpu_meter_counts_a_child_that_exits_during_the_span() -> None:
    """A reaped child's CPU moves into its parent's cutime, so the tree's sum keeps it."""
    code = (
        "import subprocess, sys; sys.stdin.readline();"
        " subprocess.run([sys.executable, '-c', 'sum(range(20_000_000))']);"
        " print('done', flush=True); sys.stdin.readline()"
    )
    command = [sys.executable, "-c", code]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdin is not None and parent.stdout is not None
        with CpuMeter([parent.pid]) as meter:
            assert tree_pids(parent.pid) == [parent.pid]
            parent.stdin.write("go\n")
            parent.stdin.flush()
            assert parent.stdout.readline().strip() == "done"  # the child has been reaped
        parent.stdin.write("end\n")
        parent.stdin.flush()
    assert meter.use.tree_seconds >= 0.1  # the child's loop: most of a second of CPU
    assert meter.use.database_seconds == 0


@pytest.mark.parametrize(
    ("values", "median", "text"),
    [
        ([3.0], 3.0, "3.0"),
        ([1.0, 5.0, 2.0], 2.0, "2.0 (1.0-5.0)"),
        ([1200.0, 1000.0], 1100.0, "1,100.0 (1,000.0-1,200.0)"),
    ],
)
def test_spread_reports_median_and_range(values: list[float], median: float, text: str) -> None:
    """A figure over rounds prints its median and, when rounds differ, lowest-highest."""
    spread = Spread.of(values)
    assert spread.median == median
    assert spread.text() == text


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 of 1..100 are ranks 50 and 99 (no interpolation)."""
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
