"""P6 campaign pacing (issue 11): how fully the dialer uses the account's concurrency.

The Retell sandbox (``retell-connector sandbox``) runs with ``--concurrency-limit 10`` and
calls of about a second (ring + talk), sending its call webhooks to the connector
(``retell-connector serve``, whose dialer frees a slot on ``call_ended``). The calls are
queued through ``POST /v1/actions/queue-phone-call`` (each with its own idempotency key,
dialable at any hour); the run ends when the sandbox has admitted them all and none is in
progress. The sandbox's own record (``GET /_sandbox/concurrency``) gives the figures:
utilisation = busy call-seconds ÷ (limit x makespan, first dial → last end), the highest
concurrency it saw, and each call's dial and end; list-calls gives each call's queue id (in
its metadata), so a call dialled twice, or never, is counted. The spread is utilisation
over each fifth of the makespan (the first and last fifths include the ramp up and down).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.cpu import CpuMeter
from bench.metrics import Metric, Size
from bench.procs import Process, free_port
from bench.servers import connector, fresh_database
from bench.spread import Spread
from bench.workload import RETELL_KEY, TOKEN

__all__ = ["LIMIT", "p6_campaign_pacing"]

LIMIT = 10
UTILISATION_GOAL = 0.90
RING_SHARE = 0.2  # of a call's length: ringing before pick-up; the rest is talk
PARTS = 5


def _queue_all(url: str, count: int) -> list[str]:
    """Queue ``count`` calls; the queued-call ids, in order."""
    run = uuid.uuid4().hex[:8]

    def queue(n: int) -> str:
        body = {
            "from_number": "+14157774444",
            "to_number": "+14155550123",
            "campaign": "bench-p6",
            "call_window": "anytime",
            "retell_llm_dynamic_variables": {"customer_name": f"Lead {n}"},
        }
        headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"p6-{run}-{n}"}
        answer = http.post(f"{url}/v1/actions/queue-phone-call", json=body, headers=headers)
        if answer.status_code != 202:
            raise RuntimeError(f"queueing answered {answer.status_code}: {answer.text[:300]}")
        return str(answer.json()["id"])

    with httpx.Client(timeout=30) as http, ThreadPoolExecutor(8) as pool:
        return list(pool.map(queue, range(count)))


def _sandbox_calls(url: str) -> list[dict[str, Any]]:
    """Every call the sandbox placed, through its list-calls."""
    calls: list[dict[str, Any]] = []
    body: dict[str, Any] = {"limit": 1000}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {RETELL_KEY}"}) as http:
        while True:
            page = http.post("/v3/list-calls", json=body).json()
            calls += page["items"]
            if not page.get("has_more"):
                return calls
            body = {"limit": 1000, "pagination_key": page["pagination_key"]}


def _utilisation_by_part(report: dict[str, Any]) -> list[float]:
    """Busy call-seconds ÷ (limit x length) in each fifth of the makespan."""
    start, end = float(report["first_dial_at"]), float(report["last_end_at"])
    length = (end - start) / PARTS
    busy = [0.0] * PARTS
    for call in report["calls"]:
        if call["ended_at"] is None:
            continue
        for part in range(PARTS):
            low, high = start + part * length, start + (part + 1) * length
            busy[part] += max(0.0, min(high, call["ended_at"]) - max(low, call["dialed_at"]))
    return [b / (LIMIT * length) for b in busy]


def p6_campaign_pacing(size: Size) -> Metric:
    count, seconds = size.campaign_calls, size.campaign_call_seconds
    port = free_port()
    sandbox_args = ["-m", "connector.cli", "sandbox", "--port", "{port}"]
    sandbox_args += ["--webhook-url", f"http://127.0.0.1:{port}/v1/webhooks/retell"]
    sandbox_args += ["--concurrency-limit", str(LIMIT)]
    sandbox_args += ["--ring-seconds", str(seconds * RING_SHARE)]
    sandbox_args += ["--talk-seconds", str(seconds * (1 - RING_SHARE))]
    with (
        Process(sandbox_args) as sandbox,
        connector(fresh_database(None), retell_base_url=sandbox.url, port=port) as server,
        CpuMeter([server.popen.pid]) as cpu,
    ):
        queued = _queue_all(server.url, count)
        deadline = time.monotonic() + 60 + 3 * count * seconds / LIMIT
        while True:
            figures = httpx.get(f"{sandbox.url}/_sandbox/concurrency?calls=false").json()
            if figures["admitted"] >= count and figures["current"] == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the campaign did not finish: {figures}")
            time.sleep(0.25)
        report = httpx.get(f"{sandbox.url}/_sandbox/concurrency", timeout=60).json()
        calls = _sandbox_calls(sandbox.url)
    dials = Counter(
        str((c.get("metadata") or {}).get("retell_connector_queued_call_id")) for c in calls
    )
    twice = sum(1 for q in queued if dials[q] > 1)
    never = sum(1 for q in queued if dials[q] == 0)
    makespan = float(report["last_end_at"]) - float(report["first_dial_at"])
    utilisation = float(report["busy_seconds"]) / (LIMIT * makespan)
    highest = int(report["highest"])
    once = twice == 0 and never == 0 and len(calls) == count
    return Metric(
        f"P6 campaign pacing ({count:,} calls of {seconds:g} s, limit {LIMIT})",
        utilisation,
        "utilisation",
        None,
        None,
        f"utilisation ≥ {UTILISATION_GOAL}; highest ≤ {LIMIT}; every call dialled once",
        utilisation >= UTILISATION_GOAL and highest <= LIMIT and once,
        {
            "highest": highest,
            "makespan_s": makespan,
            "ideal_makespan_s": count * seconds / LIMIT,
            "dialled_twice": twice,
            "never_dialled": never,
            "sandbox_calls": len(calls),
            "over_limit": int(report["over_limit"]),
        },
        spread=Spread.of(_utilisation_by_part(report)),
        cpu_us=Spread.of([cpu.use.per_op_us(count)]),
    )
