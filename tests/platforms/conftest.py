"""Fixtures for export tests: an exported artefact, and the pinned Node validators.

The Node validators live in ``.cache/node-validators`` (installed by ``.ci/run`` from
``tests/platforms/node/package-lock.json``). Without them the tests that need them skip with
a reason — except in CI (``CI=true``), where a missing validator is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".cache" / "node-validators" / "node_modules"
VENDOR = Path(__file__).resolve().parent / "vendor"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"platform validator missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The pinned validators' node_modules (skip, or fail in CI, when absent)."""
    if shutil.which("node") is None:
        _missing("node is not installed")
    if not NODE_MODULES.is_dir():
        _missing(f"{NODE_MODULES} is missing; run: bash .ci/run (or npm ci there)")
    return NODE_MODULES


def run_node(node_modules: Path, script: str, *args: str, timeout: float = 60) -> Any:
    """Run a Node script (CommonJS) with the validators on its path; parse its JSON stdout."""
    result = subprocess.run(
        ["node", "-e", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NODE_PATH": str(node_modules)},
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"node failed ({result.returncode}): {result.stderr[-2000:]}")
    return json.loads(result.stdout)
