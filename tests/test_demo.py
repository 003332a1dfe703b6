"""The README's first command: the demo runs the whole loop and exits 0."""

from __future__ import annotations

import pytest

from connector.demo import run_demo

pytestmark = pytest.mark.slow


def test_demo_walks_the_whole_loop(capsys: pytest.CaptureFixture[str]) -> None:
    """Call placed, retry replayed, and started/ended/analyzed events received verified."""
    assert run_demo(speed=5.0) == 0
    out = capsys.readouterr().out
    assert "same call: True" in out
    for event in ("call_started", "call_ended", "call_analyzed"):
        assert f"Subscriber received {event}" in out
    assert "summary:" in out and "Demo finished." in out


def test_demo_greets_an_inbound_caller_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    """The inbound call is answered from the saved context and greeted by name."""
    assert run_demo(speed=5.0) == 0
    out = capsys.readouterr().out
    assert "Subscriber received call_inbound" in out
    assert '"first_name": "Ada"' in out
    assert "Agent: Hi Ada, thanks for calling" in out


def test_demo_reports_a_call_that_never_connects(capsys: pytest.CaptureFixture[str]) -> None:
    """A no-answer number still ends with call_ended and call_analyzed."""
    assert run_demo(to_number="+14155550001", speed=5.0) == 0
    out = capsys.readouterr().out.split("Save Caller Context")[0]  # the outbound call's part
    assert "Subscriber received call_started" not in out
    assert "dial_no_answer" in out
