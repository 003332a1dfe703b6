"""The benchmark harness runs end to end (``python -m bench --quick``), so it cannot rot.

Not a timed test: it checks that every metric was measured and reported, not how fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

METRICS = ("P1 ingest", "P2 action proxy", "P3 forwarding", "P4 memory", "P5 demo")
FIELDS = {"name", "value", "unit", "baseline", "ratio", "goal", "passed", "details"}


def test_quick_benchmark_reports_every_metric(tmp_path: Path) -> None:
    """`python -m bench --quick` measures P1-P5 and writes a complete report."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (the bench installs it with apt-get as root)")
    out = tmp_path / "latest.json"
    root = Path(__file__).resolve().parents[1]

    def run() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bench", "--quick", "--out", str(out)]
        return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)

    result = run()
    if result.returncode != 0:  # a load harness on a shared 2-core box: one second chance
        print("first bench run failed:", result.stderr[-3000:])
        result = run()
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    names = [m["name"] for m in report["metrics"]]
    for metric in METRICS:
        assert any(name.startswith(metric) for name in names), (metric, names)
    for metric in report["metrics"]:
        assert set(metric) >= FIELDS
        assert metric["value"] > 0
    assert report["mode"] == "quick" and report["machine"]["cpus"]
    assert "| P5 demo |" in result.stdout


def test_quick_ceiling_reports_both_ceilings(tmp_path: Path) -> None:
    """`python -m bench.ceiling --quick` measures the P1 and P2 ceilings and writes them."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (the bench installs it with apt-get as root)")
    out = tmp_path / "ceiling.json"
    command = [sys.executable, "-m", "bench.ceiling", "--quick", "--out", str(out)]
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(out.read_text())["metrics"]
    assert [m["name"].split(":")[0] for m in metrics] == ["P1 ceiling", "P2 ceiling"]
    for metric in metrics:
        assert set(metric) >= FIELDS
        assert metric["value"] > 0 and metric["ratio"] > 0
        assert metric["details"]["non2xx"] == 0
