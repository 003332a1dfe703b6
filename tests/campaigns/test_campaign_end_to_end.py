"""Campaigns end to end over loopback: the sandbox, the connector and a subscriber."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.campaigns.sandbox_loop import KEY, SALES_LINE, Rig, campaign_rig
from tests.subscriber import Subscriber

pytestmark = pytest.mark.slow


def subscribe(rig: Rig, url: str, events: list[str]) -> str:
    created = rig.connector.post(
        "/v1/triggers/call-events/subscriptions", json={"target_url": url, "events": events}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["secret"])


def test_retries_used_up_deliver_queued_call_failed(tmp_path: Path) -> None:
    """A lead that never answers is tried 1 + 1 times, then queued_call.failed reaches the
    subscriber, signed like every delivery."""
    with campaign_rig(tmp_path) as rig, Subscriber() as hook:
        secret = subscribe(rig, hook.url, ["queued_call.failed"])
        queued = rig.queue(
            "+12125550001",  # the sandbox's "no answer"
            retry={"outcomes": ["dial_no_answer"], "max_retries": 1, "wait_minutes": 0},
        )
        (hit,) = hook.wait_for(1, timeout=30)
        (payload,) = hook.verified(secret)
        final = rig.connector.get(f"/v1/queue/{queued['id']}").json()
    assert payload["event"] == "queued_call.failed"
    assert hit.headers["webhook-id"] == payload["id"]
    assert payload["queued_call"]["id"] == queued["id"]
    assert payload["flat"]["attempts_used"] == 2
    assert payload["flat"]["last_outcome"] == "dial_no_answer"
    assert final["state"] == "failed"
    assert [a["outcome"] for a in final["attempts"]] == ["dial_no_answer", "dial_no_answer"]


def test_expiry_delivers_queued_call_expired(tmp_path: Path) -> None:
    """A call still waiting at its expires_at expires and queued_call.expired is delivered."""
    with campaign_rig(tmp_path) as rig, Subscriber() as hook:
        secret = subscribe(rig, hook.url, ["queued_call.expired"])
        assert rig.connector.post("/v1/campaigns/later/pause").status_code == 200
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
        queued = rig.queue("+12125550123", campaign="later", expires_at=expires.isoformat())
        hook.wait_for(1, timeout=30)
        (payload,) = hook.verified(secret)
    assert payload["event"] == "queued_call.expired"
    assert payload["queued_call"]["id"] == queued["id"]
    assert payload["queued_call"]["attempts"] == []
    assert payload["flat"]["state"] == "expired"


@pytest.mark.parametrize("over_limit", ["end", "429"])
def test_calls_turned_away_at_the_limit_come_back_uncounted(
    tmp_path: Path, over_limit: str
) -> None:
    """Calls placed by others fill the account behind the dialer's back: the calls Retell turns
    away (a concurrency_limit_reached ending, or a 429) are dialled again later without using
    up an attempt, and all complete."""
    sandbox = {
        "concurrency_limit": 2,
        "concurrency_over_limit": over_limit,
        "talk_seconds": 1.0,
    }
    # The dialer is driven here: Retell's figures are read just before the other calls start,
    # so the dialer learns of them only from the calls turned away (until its next reading).
    settings = {"concurrency_refresh_seconds": 1.0}
    with campaign_rig(tmp_path, sandbox=sandbox, settings=settings, run_dialer=False) as rig:
        dialer = rig.app.extensions["connector"].dialer
        # Queued first, so that the other calls are still talking when the dialer dials even
        # on a busy machine (they talk for a second).
        ids = [rig.queue(f"+1212555{3000 + n:04d}")["id"] for n in range(3)]
        assert dialer.gauge.budget() == 2
        auth = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=rig.sandbox.url, headers=auth) as http:
            for n in range(2):
                body = {"from_number": SALES_LINE, "to_number": f"+1212555{2000 + n:04d}"}
                assert http.post("/v2/create-phone-call", json=body).status_code == 201
        dialer.drain(60, until=lambda: rig.campaign()["counts"]["completed"] == 3)
        finals = [rig.connector.get(f"/v1/queue/{i}").json() for i in ids]
        report = rig.concurrency()
    assert report["highest"] <= 2
    assert all(f["attempts_used"] == 1 for f in finals)
    turned_away = [a for f in finals for a in f["attempts"] if a["state"] == "requeued"]
    assert turned_away, json.dumps(finals, indent=1)
    assert all(not a["counted"] for a in turned_away)
    if over_limit == "end":
        assert {a["outcome"] for a in turned_away} == {"concurrency_limit_reached"}
    else:
        assert all("429" in (a["error"] or "") for a in turned_away)


def test_cancel_and_pause_through_http(tmp_path: Path) -> None:
    """A cancelled call is never dialled; a paused campaign dials only after resume."""
    with campaign_rig(tmp_path) as rig:
        rig.connector.post("/v1/campaigns/held/pause")
        kept = rig.queue("+12125550123", campaign="held")
        dropped = rig.queue("+12125550124", campaign="held")
        assert rig.connector.delete(f"/v1/queue/{dropped['id']}").json()["state"] == "cancelled"
        time.sleep(1.0)
        assert rig.stats()["create_requests"] == 0
        rig.connector.post("/v1/campaigns/held/resume")
        rig.wait(lambda: rig.campaign("held")["counts"]["completed"] == 1, 30, "the kept call")
        assert rig.connector.get(f"/v1/queue/{kept['id']}").json()["state"] == "completed"
        assert rig.stats()["create_requests"] == 1
