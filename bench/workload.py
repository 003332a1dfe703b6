"""Requests for the benchmarks: every one a distinct, realistically sized event or call."""

from __future__ import annotations

import json
import uuid
from typing import Any

from connector.retell.signature import sign
from connector.samples import sample_call

__all__ = ["RETELL_KEY", "TOKEN", "create_call_requests", "distinct_calls", "signed_events"]

RETELL_KEY = "sandbox-key"
TOKEN = "bench-token-0123456789abcdef"


_ID_SLOT = '"bench-call-id-slot"'  # where a serialised template takes each event's call id


def _call_ids(count: int, tag: str) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"bench_{tag}_{run}_{n}" for n in range(count)]


def distinct_calls(count: int, *, tag: str, event: str = "call_ended") -> list[dict[str, Any]]:
    """``count`` copies of a full sample call (with transcript), each with its own call id."""
    template = sample_call(event)
    return [{**template, "call_id": call_id} for call_id in _call_ids(count, tag)]


def signed_events(
    count: int, *, tag: str, event: str = "call_ended"
) -> list[tuple[dict[str, str], str]]:
    """``count`` distinct Retell webhooks (a full call with transcript, ~9 KB), signed now.

    The webhook is serialised once and each call id spliced in (the same bytes as
    serialising each call: ids are plain ASCII): ``json.dumps`` of a full call takes
    ~0.2 ms, which made generating P4's 100,000 events ~25 s of the run."""
    call = {**sample_call(event), "call_id": json.loads(_ID_SLOT)}
    text = json.dumps({"event": event, "call": call}, separators=(",", ":"))
    before, slot, after = text.partition(_ID_SLOT)
    if not slot or _ID_SLOT in after:
        raise RuntimeError("the call id slot must occur exactly once in the template")
    requests = []
    for call_id in _call_ids(count, tag):
        body = f"{before}{json.dumps(call_id)}{after}"
        requests.append(({"x-retell-signature": sign(body, RETELL_KEY)}, body))
    return requests


def create_call_requests(count: int) -> list[tuple[dict[str, str], str]]:
    """``count`` distinct Create Phone Call requests, each with its own idempotency key."""
    run = uuid.uuid4().hex[:8]
    requests = []
    for n in range(count):
        body = json.dumps(
            {
                "from_number": "+14157774444",
                "to_number": "+14155550123",
                "retell_llm_dynamic_variables": {"customer_name": f"Lead {n}"},
                "metadata": {"crm_lead_id": f"lead-{n}"},
            }
        )
        headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"bench-{run}-{n}"}
        requests.append((headers, body))
    return requests
