"""Dialers as real processes (``retell-connector worker``) sharing one database.

The connector's API and webhook receiver run in this process without a dialer of their own;
the dialling is done by worker processes, which are killed with SIGKILL mid-run in one test.
Judged by the sandbox's own record: the highest concurrency it saw and every call it placed
(each queued call's attempts by their idempotency key in the call's metadata).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.campaigns.sandbox_loop import (
    KEY,
    Rig,
    campaign_rig,
    dials_per_attempt,
    queued_ids,
    sandbox_calls,
)
from tests.conftest import TOKEN
from tests.processes import stop_group

pytestmark = pytest.mark.slow

LIMIT = 5
SANDBOX = {"concurrency_limit": LIMIT, "ring_seconds": 0.05, "talk_seconds": 0.3}


class DialerProcess:
    """``retell-connector worker`` in its own process group, logging to a file."""

    def __init__(self, database_url: str, sandbox_url: str, log: Path) -> None:
        self._log_path = log
        self._env = {
            **os.environ,
            "RETELL_API_KEY": KEY,
            "RETELL_BASE_URL": sandbox_url,
            "CONNECTOR_API_TOKENS": TOKEN,
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_LOG_LEVEL": "INFO",
            "CONNECTOR_CONCURRENCY_REFRESH_SECONDS": "0.5",
            "RETELL_TIMEOUT_SECONDS": "1",  # a killed dialer's claims come back after 12 s
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DialerProcess:
        log = self._log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "worker"],
            env=self._env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)


@pytest.fixture
def dialers() -> Iterator[list[DialerProcess]]:
    started: list[DialerProcess] = []
    yield started
    for process in started:
        process.stop()


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def check_every_call_dialled_once(rig: Rig, ids: set[str]) -> None:
    calls = sandbox_calls(rig.sandbox.url)
    assert queued_ids(calls) == dict.fromkeys(ids, 1), "a queued call was dialled twice or never"
    assert set(dials_per_attempt(calls).values()) == {1}
    report = rig.concurrency()
    assert report["highest"] <= LIMIT
    assert report["over_limit"] == 0


def test_two_dialer_processes_share_one_limit(
    engine: Engine, tmp_path: Path, dialers: list[DialerProcess]
) -> None:
    """Two dialers on one PostgreSQL database: the limit holds across both; no attempt is
    dialled twice."""
    if engine.dialect.name != "postgresql":
        pytest.skip("several dialer processes share a PostgreSQL store")
    calls = 150
    with campaign_rig(
        tmp_path, database_url=url_of(engine), run_dialer=False, sandbox=SANDBOX
    ) as rig:
        for n in range(2):
            dialers.append(DialerProcess(url_of(engine), rig.sandbox.url, tmp_path / f"d{n}.log"))
            dialers[-1].start()
        ids = {rig.queue(f"+1212555{1000 + n:04d}")["id"] for n in range(calls)}
        rig.wait(lambda: rig.campaign()["counts"]["completed"] == calls, 120, f"{calls} calls")
        check_every_call_dialled_once(rig, ids)
        logs = [(tmp_path / f"d{n}.log").read_text() for n in range(2)]
    assert all(" placed as call " in log for log in logs), "one dialer did all the work"
    assert not any("+1212555" in log or KEY in log for log in logs), "a number or key was logged"


def test_kill_9_of_the_dialer_loses_nothing_and_dials_nothing_twice(
    engine: Engine, tmp_path: Path, dialers: list[DialerProcess]
) -> None:
    """SIGKILL the dialing process twice during a 120-call run and restart it: every queued
    call is dialled exactly once and the run finishes (each kill with a dial on the wire)."""
    calls = 120
    # Each Retell answer takes 300 ms, so a kill is likely to catch dials on the wire: sent,
    # perhaps placed, and never answered to the killed process (at 100 ms a loaded machine
    # could finish the dial between seeing it and the kill).
    slow = {**SANDBOX, "latency_ms": 300}
    caught_dialing = 0
    with campaign_rig(tmp_path, database_url=url_of(engine), run_dialer=False, sandbox=slow) as rig:
        dialer = DialerProcess(url_of(engine), rig.sandbox.url, tmp_path / "dialer.log")
        dialers.append(dialer.start())
        ids = {rig.queue(f"+1212555{1000 + n:04d}")["id"] for n in range(calls)}
        for threshold in (30, 70):
            rig.wait(lambda t=threshold: rig.stats()["create_requests"] >= t, 60, "dials")
            rig.wait(lambda: rig.campaign()["counts"]["dialing"] > 0, 10, "a dial on the wire")
            dialer.kill()
            caught_dialing += rig.campaign()["counts"]["dialing"]  # left to reconcile
            time.sleep(0.2)
            dialer.start()
        rig.wait(lambda: rig.campaign()["counts"]["completed"] == calls, 150, f"{calls} calls")
        check_every_call_dialled_once(rig, ids)
    assert caught_dialing > 0, "no kill caught a dial in progress; the test proved nothing"
    log = (tmp_path / "dialer.log").read_text()
    assert "+1212555" not in log and KEY not in log, "a number or key was logged"
