"""The sandbox's concurrency limit: counted from dial to end, reported, and enforced as Retell does."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from retell import Retell
from retell.types import ConcurrencyRetrieveResponse, PhoneCallResponse

from connector.cli import build_parser
from connector.sandbox import SandboxConfig, SandboxServer, WebhookRecorder
from connector.sandbox.concurrency import Concurrency

SALES_LINE = "+14157774444"
ANSWERED = "+14155550123"
NO_ANSWER = "+14155550001"
LONG = {"ring_seconds": 0.02, "talk_seconds": 60.0}
"""Calls that stay in progress for the whole test (closing the sandbox drops them)."""


@pytest.fixture
def sandboxes() -> Iterator[list[SandboxServer]]:
    """Sandboxes a test starts, closed at its end whatever happens."""
    started: list[SandboxServer] = []
    yield started
    for server in started:
        server.close()


def start(sandboxes: list[SandboxServer], **config: Any) -> SandboxServer:
    server = SandboxServer(SandboxConfig.fast(**config)).start()
    sandboxes.append(server)
    return server


def create(server: SandboxServer, to_number: str = ANSWERED, **fields: Any) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v2/create-phone-call",
        json={"from_number": SALES_LINE, "to_number": to_number, **fields},
        headers={"Authorization": f"Bearer {server.config.api_key}"},
        timeout=5,
    )


def place(server: SandboxServer, to_number: str = ANSWERED, **fields: Any) -> str:
    response = create(server, to_number, **fields)
    assert response.status_code == 201, response.text
    return str(response.json()["call_id"])


def figures(server: SandboxServer) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/get-concurrency",
        headers={"Authorization": f"Bearer {server.config.api_key}"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def control(server: SandboxServer, method: str = "GET", **params: str) -> dict[str, Any]:
    response = httpx.request(method, f"{server.url}/_sandbox/concurrency", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_calls_in_progress_are_reported_against_the_limit(sandboxes: list[SandboxServer]) -> None:
    """/get-concurrency shows the calls placed and not ended, and the configured limit."""
    server = start(sandboxes, concurrency_limit=3, **LONG)
    assert figures(server)["current_concurrency"] == 0
    for _ in range(2):
        place(server)
    assert figures(server)["current_concurrency"] == 2
    assert figures(server)["concurrency_limit"] == 3


def test_a_call_over_the_limit_is_created_then_ends_with_concurrency_limit_reached(
    sandboxes: list[SandboxServer],
) -> None:
    """Over the limit the create still answers 201, and the call ends at once, as Retell's do."""
    server = start(sandboxes, concurrency_limit=2, **LONG)
    first, second = place(server), place(server)
    response = create(server)
    assert response.status_code == 201
    assert response.json()["call_status"] == "registered"
    over = server.state.wait_for(response.json()["call_id"], "analyzed", timeout=5)
    assert over["call_status"] == "error"
    assert over["disconnection_reason"] == "concurrency_limit_reached"
    assert over["duration_ms"] == 0 and "transcript" not in over
    assert over["call_analysis"]["call_successful"] is False
    typed = PhoneCallResponse.model_validate(over, strict=True)  # the SDK's own type
    assert not typed.model_extra and not typed.call_analysis.model_extra  # type: ignore[union-attr]
    assert figures(server)["current_concurrency"] == 2
    for call_id in (first, second):
        assert server.state.wait_for(call_id, "ongoing", timeout=5)["call_status"] == "ongoing"


def test_a_call_over_the_limit_sends_no_call_started() -> None:
    """Its webhooks are call_ended then call_analyzed, both naming the reason."""
    with WebhookRecorder() as recorder:
        config = SandboxConfig.fast(webhook_url=recorder.url, concurrency_limit=0)
        with SandboxServer(config) as server:
            call_id = place(server)
            got = recorder.wait_for(2)
    assert [hook.json()["event"] for hook in got] == ["call_ended", "call_analyzed"]
    for hook in got:
        assert hook.json()["call"]["call_id"] == call_id
        assert hook.json()["call"]["disconnection_reason"] == "concurrency_limit_reached"


def test_a_slot_is_freed_when_the_call_ends(sandboxes: list[SandboxServer]) -> None:
    """Once a call has ended, the next one under a limit of 1 is placed normally."""
    server = start(sandboxes, concurrency_limit=1)
    first = place(server)
    server.state.wait_for(first, "ended", timeout=5)
    assert figures(server)["current_concurrency"] == 0
    second = server.state.wait_for(place(server), "ended", timeout=5)
    assert second["disconnection_reason"] == "agent_hangup"


def test_a_call_that_never_connects_holds_its_slot_while_it_rings(
    sandboxes: list[SandboxServer],
) -> None:
    """A call counts from the dial, not from the pick-up: ringing takes a slot too."""
    server = start(sandboxes, concurrency_limit=1, ring_seconds=60.0)
    place(server, NO_ANSWER)
    assert figures(server)["current_concurrency"] == 1
    over = server.state.wait_for(place(server), "ended", timeout=5)
    assert over["disconnection_reason"] == "concurrency_limit_reached"


def test_reserved_inbound_slots_are_not_used_for_outbound_calls(
    sandboxes: list[SandboxServer],
) -> None:
    """With 1 of 3 slots reserved for inbound, the third outbound call is over the limit."""
    server = start(sandboxes, concurrency_limit=3, reserved_inbound_concurrency=1, **LONG)
    place(server), place(server)
    over = server.state.wait_for(place(server), "ended", timeout=5)
    assert over["disconnection_reason"] == "concurrency_limit_reached"
    assert figures(server)["reserved_inbound_concurrency"] == 1


def test_429_mode_refuses_the_create_and_creates_nothing(sandboxes: list[SandboxServer]) -> None:
    """With concurrency_over_limit=429 a create over the limit is a Retell 429, no call."""
    server = start(sandboxes, concurrency_limit=1, concurrency_over_limit="429", **LONG)
    place(server)
    response = create(server, idempotency_key="second")
    assert response.status_code == 429
    assert response.json()["status"] == "error"
    assert "Concurrency limit" in response.json()["message"]
    stats = httpx.get(f"{server.url}/_sandbox/stats").json()
    assert stats["calls_created"] == 1
    assert sum(stats["calls_by_phase"].values()) == 1
    assert control(server)["over_limit"] == 1


def test_429_mode_still_replays_an_idempotent_create(sandboxes: list[SandboxServer]) -> None:
    """A repeated idempotency_key returns its call even when the account is full."""
    server = start(sandboxes, concurrency_limit=1, concurrency_over_limit="429", **LONG)
    call_id = place(server, idempotency_key="lead-1")
    replay = create(server, idempotency_key="lead-1")
    assert replay.status_code == 201
    assert replay.json()["call_id"] == call_id
    assert control(server)["over_limit"] == 0


def test_the_limit_holds_under_a_burst_and_the_highest_is_recorded(
    sandboxes: list[SandboxServer],
) -> None:
    """Twenty creates at once under a limit of 5: five in progress, fifteen over the limit."""
    server = start(sandboxes, concurrency_limit=5, **LONG)
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def one() -> None:
        barrier.wait()
        statuses.append(create(server).status_code)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert statuses == [201] * 20
    report = control(server)
    assert report["highest"] == 5
    assert report["current"] == 5
    assert report["admitted"] == 5
    assert report["over_limit"] == 15
    phases = server.state.book.phases()
    assert phases["ongoing"] + phases["registered"] == 5


def test_each_call_s_busy_time_is_recorded_for_utilisation(sandboxes: list[SandboxServer]) -> None:
    """Dial and end instants per call add up to the busy call-seconds a dialer is judged by."""
    server = start(sandboxes, concurrency_limit=2)
    calls = [place(server), place(server, NO_ANSWER)]
    ended = [server.state.wait_for(call_id, "ended", timeout=5) for call_id in calls]
    report = control(server)
    slots = {slot["call_id"]: slot for slot in report["calls"]}
    assert set(slots) == set(calls)
    for call in ended:
        slot = slots[call["call_id"]]
        assert slot["dialed_at"] * 1000 <= call["start_timestamp"]
        assert slot["ended_at"] * 1000 >= call["end_timestamp"]
        assert slot["busy_seconds"] == pytest.approx(slot["ended_at"] - slot["dialed_at"])
    assert report["busy_seconds"] == pytest.approx(sum(s["busy_seconds"] for s in slots.values()))
    assert report["first_dial_at"] == min(s["dialed_at"] for s in slots.values())
    assert report["last_end_at"] == max(s["ended_at"] for s in slots.values())
    first, second = sorted(slots.values(), key=lambda s: s["dialed_at"])
    overlapped = second["dialed_at"] < first["ended_at"]  # not if the first ended very fast
    assert report["current"] == 0 and report["highest"] == (2 if overlapped else 1)


def test_the_call_list_can_be_left_out(sandboxes: list[SandboxServer]) -> None:
    """?calls=false gives the totals only, for large runs."""
    server = start(sandboxes, **LONG)
    place(server)
    report = control(server, calls="false")
    assert "calls" not in report
    assert report["admitted"] == 1


def test_reset_starts_measuring_from_the_calls_in_progress(sandboxes: list[SandboxServer]) -> None:
    """DELETE /_sandbox/concurrency keeps calls in progress and forgets the rest."""
    server = start(sandboxes, concurrency_limit=3, **LONG)
    for call_id in (place(server), place(server)):
        server.state.wait_for(call_id, "ongoing", timeout=5)
    server.state.configure(talk_seconds=0.01)
    ending = place(server)
    server.state.wait_for(ending, "ended", timeout=5)
    assert control(server)["highest"] == 3
    report = control(server, "DELETE")
    assert report["highest"] == 2
    assert report["current"] == 2
    assert ending not in {slot["call_id"] for slot in report["calls"]}
    assert report["busy_seconds"] == 0


def test_the_sdk_reads_get_concurrency(sandboxes: list[SandboxServer]) -> None:
    """retell-sdk's concurrency.retrieve() parses the sandbox's answer, true figures included."""
    server = start(sandboxes, concurrency_limit=7, reserved_inbound_concurrency=2, **LONG)
    place(server)
    with Retell(api_key=server.config.api_key, base_url=server.url, max_retries=0) as sdk:
        got = sdk.concurrency.retrieve()
    assert got.current_concurrency == 1
    assert got.concurrency_limit == 7
    assert got.reserved_inbound_concurrency == 2
    assert got.base_concurrency == 7 and got.purchased_concurrency == 0


def test_get_concurrency_sends_exactly_the_sdk_s_fields(sandboxes: list[SandboxServer]) -> None:
    """Nothing more and nothing less than ConcurrencyRetrieveResponse declares."""
    server = start(sandboxes)
    assert set(figures(server)) == set(ConcurrencyRetrieveResponse.model_fields)


@pytest.mark.parametrize(
    ("limit", "base", "purchased", "remaining"),
    [(5, 5, 0, 100), (20, 20, 0, 100), (50, 20, 30, 70), (200, 20, 180, 0)],
)
def test_a_limit_above_the_free_base_counts_as_purchased(
    sandboxes: list[SandboxServer], limit: int, base: int, purchased: int, remaining: int
) -> None:
    """concurrency_limit = base_concurrency + purchased_concurrency, as Retell's docs state."""
    got = figures(start(sandboxes, concurrency_limit=limit))
    assert got["concurrency_limit"] == limit
    assert (got["base_concurrency"], got["purchased_concurrency"]) == (base, purchased)
    assert got["remaining_purchase_limit"] == remaining
    assert got["concurrency_purchase_limit"] == purchased + remaining


def test_the_limit_can_change_while_running(sandboxes: list[SandboxServer]) -> None:
    """PATCH /_sandbox/config concurrency_limit takes effect for the next create."""
    server = start(sandboxes, concurrency_limit=1, **LONG)
    place(server)
    patched = httpx.patch(f"{server.url}/_sandbox/config", json={"concurrency_limit": 2})
    assert patched.status_code == 200 and patched.json()["concurrency_limit"] == 2
    second = place(server)
    assert figures(server)["current_concurrency"] == 2
    assert server.state.wait_for(second, "ongoing", timeout=5)["call_status"] == "ongoing"


@pytest.mark.parametrize(
    "change",
    [
        {"concurrency_limit": -1},
        {"concurrency_limit": "5"},
        {"concurrency_limit": 2.5},
        {"concurrency_limit": True},
        {"reserved_inbound_concurrency": 25},
        {"concurrency_over_limit": "drop"},
    ],
)
def test_a_bad_concurrency_setting_is_400(
    sandboxes: list[SandboxServer], change: dict[str, Any]
) -> None:
    """The control API refuses a limit it could not enforce, and keeps the old one."""
    server = start(sandboxes)
    response = httpx.patch(f"{server.url}/_sandbox/config", json=change)
    assert response.status_code == 400
    assert server.config.concurrency_limit == 20


def test_the_default_is_retell_s_pay_as_you_go_limit() -> None:
    """Twenty calls at once, ended with concurrency_limit_reached beyond that."""
    config = SandboxConfig()
    assert (config.concurrency_limit, config.concurrency_over_limit) == (20, "end")


@pytest.mark.parametrize(
    ("argv", "limit", "mode"),
    [
        ([], 20, "end"),
        (["--concurrency-limit", "5"], 5, "end"),
        (["--concurrency-limit", "0", "--concurrency-over-limit", "429"], 0, "429"),
    ],
)
def test_cli_flags(argv: list[str], limit: int, mode: str) -> None:
    """retell-connector sandbox takes --concurrency-limit and --concurrency-over-limit."""
    args = build_parser().parse_args(["sandbox", *argv])
    assert (args.concurrency_limit, args.concurrency_over_limit) == (limit, mode)


@pytest.mark.parametrize(
    "argv",
    [
        ["--concurrency-limit", "-1"],
        ["--concurrency-limit", "many"],
        ["--concurrency-over-limit", "drop"],
        ["--talk-seconds", "-1"],
    ],
)
def test_cli_refuses_bad_flags(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A bad value stops with argparse's one-line usage error naming the flag."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["sandbox", *argv])
    assert exited.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_the_cli_sandbox_runs_with_the_flags_given() -> None:
    """retell-connector sandbox --concurrency-limit 2 --concurrency-over-limit 429 serves them."""
    argv = ["sandbox", "--port", "0", "--api-key", "cli-key", "--concurrency-limit", "2"]
    argv += ["--concurrency-over-limit", "429", "--talk-seconds", "0.5"]
    script = f"from connector.cli import main; main({argv!r})"
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        found = re.search(r"(http://127\.0\.0\.1:\d+)", process.stdout.readline())
        assert found
        headers = {"Authorization": "Bearer cli-key"}
        got = httpx.get(f"{found[1]}/get-concurrency", headers=headers).json()
        config = httpx.get(f"{found[1]}/_sandbox/config").json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert got["concurrency_limit"] == 2
    assert (config["concurrency_over_limit"], config["talk_seconds"]) == ("429", 0.5)


def test_busy_seconds_on_an_injected_clock() -> None:
    """Two overlapping calls and one refused: exact busy time, makespan and highest."""
    ticks = iter([10.0, 11.0, 13.0, 14.5])
    slots = Concurrency(clock=lambda: next(ticks))
    assert slots.admit("a", limit=2)  # 10.0
    assert slots.admit("b", limit=2)  # 11.0
    assert not slots.admit("c", limit=2)
    slots.release("a")  # 13.0
    slots.release("never-admitted")
    slots.release("b")  # 14.5
    report = slots.report()
    assert report["busy_seconds"] == 3.0 + 3.5
    assert (report["first_dial_at"], report["last_end_at"]) == (10.0, 14.5)
    assert (report["highest"], report["current"], report["over_limit"]) == (2, 0, 1)
    assert [c["busy_seconds"] for c in report["calls"]] == [3.0, 3.5]
