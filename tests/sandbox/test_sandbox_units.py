"""The sandbox's pure parts: scripts, pagination, filters, content, clock and config."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from connector.sandbox import SandboxConfig
from connector.sandbox.calls import CallBook, SandboxCall
from connector.sandbox.content import transcript_fields
from connector.sandbox.conversations import conversation
from connector.sandbox.errors import ApiError
from connector.sandbox.filters import match
from connector.sandbox.pagination import decode_key, encode_key, paginate, parse_limit
from connector.sandbox.scheduler import Scheduler
from connector.sandbox.scripts import markdown_table, script_for

README = Path(__file__).parents[2] / "connector" / "sandbox" / "README.md"


def test_readme_table_matches_the_scripts() -> None:
    """The README's outcome table is exactly what the scripts produce."""
    assert markdown_table() in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("to_number", "outcome", "events"),
    [
        ("+14155550001", "no answer", ("call_ended", "call_analyzed")),
        ("+14155550002", "busy", ("call_ended", "call_analyzed")),
        ("+14155550003", "voicemail", ("call_started", "call_ended", "call_analyzed")),
        ("+14155550004", "dial failed", ("call_ended", "call_analyzed")),
        (
            "+14155550005",
            "answered, not interested",
            ("call_started", "call_ended", "call_analyzed"),
        ),
        ("+14155550009", "answered, books a demo", ("call_started", "call_ended", "call_analyzed")),
        ("+14155550010", "answered, books a demo", ("call_started", "call_ended", "call_analyzed")),
    ],
)
def test_script_for_reads_the_last_four_digits(
    to_number: str, outcome: str, events: tuple[str, ...]
) -> None:
    """The last four digits choose the outcome and its webhook events."""
    script = script_for(to_number)
    assert (script.outcome, script.events) == (outcome, events)


@pytest.mark.parametrize("sort_key", [0, 7, -3, 10**12])
def test_pagination_key_round_trips(sort_key: int) -> None:
    """A pagination key decodes to the sort key it was made from."""
    assert decode_key(encode_key(sort_key)) == sort_key


@pytest.mark.parametrize("key", ["", "abc", "c2J4Ong", "!!!"])
def test_foreign_pagination_key_is_400(key: str) -> None:
    """Keys the sandbox didn't issue are a 400."""
    with pytest.raises(ApiError) as caught:
        decode_key(key)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 50), (1, 1), ("20", 20), (1000, 1000), (0, None), (True, None), ("x", None)],
)
def test_parse_limit(raw: object, expected: int | None) -> None:
    """limit defaults to 50 and must be 1..1000."""
    if expected is None:
        with pytest.raises(ApiError):
            parse_limit(raw)
    else:
        assert parse_limit(raw) == expected


def test_paginate_walks_both_directions() -> None:
    """paginate cuts pages after the key in the requested direction."""
    items = [1, 2, 3, 4, 5]
    first = paginate(items, lambda i: i, limit=2, pagination_key=None, descending=False)
    second = paginate(
        items, lambda i: i, limit=2, pagination_key=first.pagination_key, descending=False
    )
    assert (first.items, second.items, second.has_more) == ([1, 2], [3, 4], True)
    down = paginate(
        items[::-1], lambda i: i, limit=4, pagination_key=encode_key(5), descending=True
    )
    assert (down.items, down.has_more, down.pagination_key) == ([4, 3, 2, 1], False, None)


_MISSING: Any = object()


@pytest.mark.parametrize(
    ("cond", "value", "expected"),
    [
        ({"type": "string", "op": "eq", "value": "a"}, "a", True),
        ({"type": "string", "op": "ne", "value": "a"}, None, True),
        ({"type": "string", "op": "sw", "value": "+1415"}, "+14155550123", True),
        ({"type": "string", "op": "co", "value": "555"}, "+14155550123", True),
        ({"type": "number", "op": "lt", "value": 5}, 4, True),
        ({"type": "number", "op": "ge", "value": 5}, 4, False),
        ({"type": "number", "op": "eq", "value": 1}, True, False),
        ({"type": "range", "op": "bt", "value": [1, 3]}, 3, True),
        ({"type": "boolean", "op": "eq", "value": False}, 0, False),
        ({"type": "enum", "op": "in", "value": ["a", "b"]}, "b", True),
        ({"type": "present", "op": "pr"}, None, False),
        ({"type": "present", "op": "np"}, None, True),
    ],
)
def test_filter_condition_semantics(cond: dict[str, Any], value: Any, expected: bool) -> None:
    """Each filter type and op compares the way Retell documents."""
    assert match(cond, value) is expected


@pytest.mark.parametrize("upto", [1, 3, None])
def test_partial_transcripts_grow_turn_by_turn(upto: int | None) -> None:
    """transcript_fields for the first turns is a prefix of the full transcript."""
    turns = conversation("booking", {"customer_name": "Ada"})
    full = transcript_fields(turns, 30.0)
    part = transcript_fields(turns, 30.0, upto=upto)
    assert part["transcript_object"] == full["transcript_object"][:upto]
    assert full["transcript"].startswith(part["transcript"])
    assert full["transcript_object"][-1]["words"][-1]["end"] <= 30.0


def test_scheduler_runs_callbacks_in_due_order_and_drops_the_rest_on_close() -> None:
    """One clock thread runs due callbacks by time; close discards what is pending."""
    ran: list[str] = []
    done = threading.Event()
    clock = Scheduler()
    clock.call_later(0.04, lambda: ran.append("late"))
    clock.call_later(0.0, lambda: ran.append("early"))
    clock.call_later(0.06, done.set)
    clock.call_later(60, lambda: ran.append("never"))
    assert done.wait(5)
    clock.close()
    assert ran == ["early", "late"] and clock.pending() == 0


@pytest.mark.parametrize(
    "changes", [{"ring_seconds": -1}, {"latency_ms": -5}, {"api_key": ""}, {"webhook_retries": -1}]
)
def test_config_rejects_impossible_values(changes: dict[str, Any]) -> None:
    """SandboxConfig refuses negative durations and an empty key."""
    with pytest.raises(ValueError):
        SandboxConfig(**changes)


def _call(call_id: str) -> SandboxCall:
    return SandboxCall(0, {"call_id": call_id}, script_for("+14155550009"), [])


@pytest.mark.parametrize(
    ("elapsed", "same_call"),
    [(0.0, True), (3599.9, True), (3600.0, False), (7200.0, False)],
)
def test_call_book_keeps_an_idempotency_key_for_one_hour(elapsed: float, same_call: bool) -> None:
    """A repeated key finds the first call within the hour, and places a new one after it."""
    now = [1000.0]
    book = CallBook(clock=lambda: now[0])
    first, created = book.add(_call("first"), "key-1")
    now[0] += elapsed
    again, created_again = book.add(_call("second"), "key-1")
    assert created and created_again is not same_call
    assert (again.call_id == first.call_id) is same_call


def test_call_book_expires_only_the_keys_that_are_due() -> None:
    """Expiry drops the oldest keys and keeps younger ones, whatever order they were used in."""
    now = [0.0]
    book = CallBook(idempotency_ttl=10.0, clock=lambda: now[0])
    for n in range(5):
        book.add(_call(f"c{n}"), f"key-{n}")
        now[0] += 3.0  # key-n was added at 3n s
    # At 15 s: key-0 (0 s) and key-1 (3 s) are due; key-2 (6 s) and later are not.
    found = {n: book.add(_call(f"retry{n}"), f"key-{n}") for n in (4, 2, 1, 0)}
    assert {n: created for n, (_, created) in found.items()} == {
        4: False,
        2: False,
        1: True,
        0: True,
    }
