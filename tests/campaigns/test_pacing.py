"""300 queued calls against the sandbox's limit of 5: never above it, each dialled once, busy.

Utilisation = busy call-seconds / (limit x makespan), from the sandbox's own record of when
each admitted call was dialled and ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.campaigns.sandbox_loop import campaign_rig, dials_per_attempt, queued_ids, sandbox_calls

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # utilisation falls when others share the cores

CALLS = 300
LIMIT = 5


def test_300_calls_at_a_limit_of_5(tmp_path: Path) -> None:
    """The sandbox never sees more than 5 at once; every queued call is dialled exactly once;
    utilisation is at least 0.85."""
    sandbox = {"concurrency_limit": LIMIT, "ring_seconds": 0.05, "talk_seconds": 0.3}
    with campaign_rig(tmp_path, sandbox=sandbox) as rig:
        ids = {rig.queue(f"+1212555{1000 + n:04d}", campaign="burst")["id"] for n in range(CALLS)}
        rig.wait(lambda: rig.campaign("burst")["counts"]["completed"] == CALLS, 120, "300 calls")
        report = rig.concurrency()
        calls = sandbox_calls(rig.sandbox.url)
    assert report["highest"] <= LIMIT
    assert report["over_limit"] == 0
    assert queued_ids(calls) == dict.fromkeys(ids, 1)
    assert set(dials_per_attempt(calls).values()) == {1}
    makespan = report["last_end_at"] - report["first_dial_at"]
    utilisation = report["busy_seconds"] / (LIMIT * makespan)
    print(f"utilisation {utilisation:.3f}, highest {report['highest']}, makespan {makespan:.1f} s")
    assert utilisation >= 0.85
