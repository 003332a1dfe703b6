"""P7 inbound answer time (issue 13): how fast ``POST /v1/webhooks/retell/inbound`` answers.

Retell keeps an inbound caller ringing until the answer arrives, so the answer time is
what the caller waits. The connector (``retell-connector serve``) holds one routing rule
for the called number and a saved context for the caller, and no responder (no subscription
answers synchronously), so the answer is rules + saved contact + the recorded
``call_inbound`` event. Each request is a distinct inbound call (its own ``call_id``),
signed as Retell signs, sent at a steady pace (``bench.paced``: 25 calls/s over 8
connections, far busier than a phone line); the latency is the generator's, from request
written to answer read. Rounds run against the same server, one after the other.
"""

from __future__ import annotations

import json
import uuid

import httpx

from bench.cpu import CpuMeter
from bench.metrics import Metric, Size
from bench.paced import Answer, run_paced
from bench.servers import connector, fresh_database
from bench.spread import Spread, percentile
from bench.workload import RETELL_KEY, TOKEN
from connector.retell.signature import sign

__all__ = ["p7_inbound_answer"]

P99_GOAL_MS = 50.0
RATE = 25.0
CONNECTIONS = 8
CALLED = "+14157774444"
CALLER = "+14155550142"
AGENT = "agent_bench0inbound0rule0000"
PATH = "/v1/webhooks/retell/inbound"
WARM_UP = 25  # calls answered before the measured rounds: a new server's first requests on
# each thread build what later ones reuse, which is not the steady state


def _inbound_calls(count: int) -> list[tuple[dict[str, str], str]]:
    run = uuid.uuid4().hex[:8]
    requests = []
    for n in range(count):
        call = {"from_number": CALLER, "to_number": CALLED, "call_id": f"in_{run}_{n}"}
        body = json.dumps({"event": "call_inbound", "call_inbound": call}, separators=(",", ":"))
        requests.append(({"x-retell-signature": sign(body, RETELL_KEY)}, body))
    return requests


def _configure(url: str) -> None:
    """One rule for the called number and a saved context for the caller; then one call
    answered, to check that the answer carries both (so the figures are for real work)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        rule = {
            "name": "Bench: sales line",
            "match": {"to_numbers": [CALLED]},
            "override_agent_id": AGENT,
            "dynamic_variables": {"department": "sales"},
        }
        http.post("/v1/inbound/rules", json=rule).raise_for_status()
        contact = {"dynamic_variables": {"first_name": "Ada"}, "metadata": {"crm": "c-1"}}
        http.put(f"/v1/inbound/contacts/{CALLER}", json=contact).raise_for_status()
        (headers, body) = _inbound_calls(1)[0]
        answer = http.post(
            PATH, content=body, headers={**headers, "content-type": "application/json"}
        )
        text = answer.text
        if answer.status_code != 200 or "Ada" not in text or AGENT not in text:
            raise RuntimeError(f"the inbound answer lacks the rule or contact: {text[:300]}")


def p7_inbound_answer(size: Size) -> Metric:
    rounds: list[list[Answer]] = []
    cpu_us: list[float] = []
    with connector(fresh_database(None)) as server:
        _configure(server.url)
        run_paced(server.url + PATH, _inbound_calls(WARM_UP), rate=RATE, connections=CONNECTIONS)
        for _ in range(size.rounds):
            calls = _inbound_calls(size.inbound_calls)
            with CpuMeter([server.popen.pid]) as cpu:
                answers = run_paced(server.url + PATH, calls, rate=RATE, connections=CONNECTIONS)
            rounds.append(answers)
            cpu_us.append(cpu.use.per_op_us(len(answers)))
    failed = sum(1 for answers in rounds for a in answers if a.status != 200)
    p99 = Spread.of(percentile((a.ms for a in answers), 0.99) for answers in rounds)
    return Metric(
        "P7 inbound answer time (rule + saved contact, no responder)",
        p99.median,
        "ms p99",
        None,
        None,
        f"p99 < {P99_GOAL_MS:.0f} ms",
        p99.median < P99_GOAL_MS and failed == 0,
        {
            "p50_ms": Spread.of(percentile((a.ms for a in answers), 0.5) for answers in rounds),
            "answers": sum(len(answers) for answers in rounds),
            "not_200": failed,
            "rate_per_s": RATE,
        },
        spread=p99,
        cpu_us=Spread.of(cpu_us),
    )
