"""kill -9 the serving connector during a run of 1,000 events: nothing acknowledged is lost.

Retell's side is played by sender threads that, like Retell, retry an event until it gets
a 2xx. The connector (gunicorn, 2 workers, in-process delivery loops) is SIGKILLed several
times mid-run and restarted. Afterwards every acknowledged event has reached every matching
subscriber at least once, any duplicate carries the same webhook-id, and the server's logs
hold no secret, signature, token or full phone number.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from connector.events import event_id
from connector.retell.signature import sign
from tests.conftest import TOKEN
from tests.processes import free_port, stop_group, wait_ready
from tests.subscriber import Subscriber

pytestmark = pytest.mark.slow

KEY = "crash-test-retell-key"
EVENTS = 1000
KILL_AT = (150, 400, 650, 850)
SENDERS = 4
DEADLINE_SECONDS = 120


class Connector:
    """``retell-connector serve`` as a child process in its own process group."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("ab")
        self._env = {
            **os.environ,
            "RETELL_API_KEY": KEY,
            "CONNECTOR_API_TOKENS": TOKEN,
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_ALLOW_PRIVATE_TARGETS": "true",
            "CONNECTOR_RETRY_SCHEDULE": "0.2,0.5,1,1,1,1,1,1",
            "CONNECTOR_LOG_LEVEL": "INFO",
            "CONNECTOR_DELIVERY_TIMEOUT_SECONDS": "2",  # so a killed worker's leases expire in 14 s
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "connector.cli",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            "2",
        ]
        self.process = subprocess.Popen(
            command, env=self._env, stdout=self._log, stderr=self._log, start_new_session=True
        )
        if not wait_ready(self.url):
            raise RuntimeError("connector did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
        self._log.close()


@pytest.fixture
def connector(engine: Engine, tmp_path: Path) -> Iterator[Connector]:
    url = engine.url.render_as_string(hide_password=False)
    server = Connector(url, tmp_path / "connector.log")
    try:  # a start that fails still closes its log file (else an unraisable ResourceWarning)
        server.start()
        yield server
    finally:
        server.stop()


def retell_event(n: int) -> tuple[str, dict[str, Any]]:
    event = ("call_ended", "call_analyzed")[n % 2]
    call = {
        "call_id": f"crash_call_{n // 2:05d}",
        "call_type": "phone_call",
        "agent_id": "agent_crash",
        "agent_version": 1,
        "call_status": "ended",
        "direction": "outbound",
        "from_number": "+14157774444",
        "to_number": f"+1415555{n // 2 % 10000:04d}",
        "transcript": "Agent: Hello, this is a crash test.\nUser: Fine.",
    }
    return event, call


def test_nothing_acknowledged_is_lost_across_sigkills(connector: Connector, tmp_path: Path) -> None:
    """Every event acknowledged with a 2xx reaches every matching subscriber at least once."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with Subscriber() as everything, Subscriber() as analyzed_only:
        subs = []
        for sub, events in (
            (everything, ["call_ended", "call_analyzed"]),
            (analyzed_only, ["call_analyzed"]),
        ):
            created = httpx.post(
                f"{connector.url}/v1/triggers/call-events/subscriptions",
                json={"target_url": sub.url, "events": events},
                headers=auth,
            )
            assert created.status_code == 201, created.text
            subs.append(created.json())

        acked: dict[int, str] = {}
        last_failure: dict[int, str] = {}
        lock = threading.Lock()
        cursor = iter(range(EVENTS))
        stop_at = time.monotonic() + DEADLINE_SECONDS

        def send_all() -> None:
            with httpx.Client(timeout=5) as http:
                while True:
                    with lock:
                        n = next(cursor, None)
                    if n is None:
                        return
                    event, call = retell_event(n)
                    body = json.dumps({"event": event, "call": call})
                    while time.monotonic() < stop_at:  # retry like Retell until acknowledged
                        try:
                            headers = {
                                "x-retell-signature": sign(body, KEY),
                                "content-type": "application/json",
                            }
                            response = http.post(
                                f"{connector.url}/v1/webhooks/retell", content=body, headers=headers
                            )
                            if response.status_code == 204:
                                with lock:
                                    acked[n] = event_id(event, call)
                                break
                            last_failure[n] = f"{response.status_code} {response.text[:200]}"
                        except httpx.HTTPError as exc:
                            last_failure[n] = repr(exc)
                        time.sleep(0.05)

        senders = [threading.Thread(target=send_all) for _ in range(SENDERS)]
        for thread in senders:
            thread.start()
        for threshold in KILL_AT:
            while len(acked) < threshold and time.monotonic() < stop_at:
                time.sleep(0.005)
            connector.kill()
            time.sleep(0.2)
            connector.start()
        for thread in senders:
            thread.join(DEADLINE_SECONDS)
        unacked = {n: last_failure.get(n) for n in range(EVENTS) if n not in acked}
        assert not unacked, f"{len(unacked)} events never acknowledged: {unacked}"

        expected_all = set(acked.values())
        expected_analyzed = {acked[n] for n in acked if n % 2 == 1}
        _wait_until_received(everything, expected_all)
        _wait_until_received(analyzed_only, expected_analyzed)

        for sub, record, expected in (
            (everything, subs[0], expected_all),
            (analyzed_only, subs[1], expected_analyzed),
        ):
            payloads = sub.verified(record["secret"])
            ids = [hit.headers["webhook-id"] for hit in sub.hits]
            assert [p["id"] for p in payloads] == ids  # a duplicate is the same message, same id
            assert set(ids) == expected
    assert connector.kills == len(KILL_AT)
    _assert_logs_clean((tmp_path / "connector.log").read_text(errors="replace"), subs)


def _wait_until_received(sub: Subscriber, expected: set[str]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if expected <= {hit.headers["webhook-id"] for hit in sub.hits}:
            return
        time.sleep(0.1)
    missing = expected - {hit.headers["webhook-id"] for hit in sub.hits}
    raise AssertionError(f"{len(missing)} acknowledged events never delivered")


def _assert_logs_clean(logs: str, subs: list[dict[str, Any]]) -> None:
    assert "delivery" in logs and "retell call_analyzed" in logs  # the run did log
    for secret in (
        KEY,
        TOKEN,
        *(s["secret"] for s in subs),
        *(s["secret"].removeprefix("whsec_") for s in subs),
    ):
        assert secret not in logs
    assert "v1," not in logs and ",d=" not in logs  # no signatures
    assert "Bearer " + TOKEN[:6] not in logs
    assert "+1415555" not in logs and "4157774444" not in logs  # no full phone numbers
