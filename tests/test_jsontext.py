"""``connector.jsontext``: stored and forwarded JSON reads back as the value it was made from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connector import jsontext

VALUES: list[tuple[str, Any]] = [
    ("call object", {"call_id": "c1", "transcript": "Agent: Hi", "duration_ms": 61_000}),
    ("non-ASCII text", {"name": "Zoë Ångström", "note": "電話"}),
    ("integer beyond 64 bits", {"crm_id": 2**70}),
    ("lone surrogate", {"text": "\ud800"}),
    ("nested lists and floats", {"a": [1.5, -0.0, None, True, {"b": []}]}),
]


@pytest.mark.parametrize(("label", "value"), VALUES, ids=[v[0] for v in VALUES])
def test_round_trips(label: str, value: Any) -> None:
    """Whatever is stored parses back to an equal value, including what orjson refuses."""
    assert json.loads(jsontext.dumps(value)) == value


def test_is_compact() -> None:
    """No spaces between tokens: forwarded bodies stay as small as possible."""
    assert jsontext.dumps({"a": [1, 2], "b": "c"}) == '{"a":[1,2],"b":"c"}'


TEXTS: list[tuple[str, bytes]] = [
    ("call event", b'{"event":"call_ended","call":{"call_id":"c1","duration_ms":61000}}'),
    ("integer beyond 64 bits", b'{"crm_id": 123456789012345678901234567890}'),
    ("integer just beyond 64 bits", b"[18446744073709551616, 18446744073709551615]"),
    ("negative integer beyond 64 bits", b'{"crm_id": -98765432109876543210}'),
    ("NaN", b'{"score": NaN}'),
    ("lone surrogate escape", b'{"text": "\\ud800"}'),
    ("UTF-16", '{"name": "Zoë"}'.encode("utf-16")),
    ("duplicate keys", b'{"a": 1, "a": 2}'),
    ("float", b'{"x": 0.1, "y": 1e-7, "z": 12345678901234567.5}'),
]


@pytest.mark.parametrize(("label", "raw"), TEXTS, ids=[t[0] for t in TEXTS])
def test_loads_matches_the_standard_library(label: str, raw: bytes) -> None:
    """Every text parses to exactly what ``json.loads`` gives (big integers stay integers)."""
    assert repr(jsontext.loads(raw)) == repr(json.loads(raw))


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": 1,}', b"\xff\xfe\xfa"])
def test_loads_fails_where_the_standard_library_fails(raw: bytes) -> None:
    """Malformed text raises ``ValueError`` (``json.JSONDecodeError`` or a decoding error)."""
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        jsontext.loads(raw)


def _nested(depth: int, middle: bytes = b"") -> bytes:
    return b"[" * depth + middle + b"]" * depth


# The plain text goes through orjson; a 19-digit number sends it to the standard library.
NESTINGS: list[tuple[str, bytes]] = [
    ("arrays", b""),
    ("arrays around a 19-digit number", b"1234567890123456789"),
]


@pytest.mark.parametrize(("label", "middle"), NESTINGS, ids=[n[0] for n in NESTINGS])
def test_nesting_up_to_the_cap_parses(label: str, middle: bytes) -> None:
    """``MAX_DEPTH`` levels of nesting are read as the standard library reads them."""
    raw = _nested(jsontext.MAX_DEPTH, middle)
    assert jsontext.loads(raw) == json.loads(raw)


@pytest.mark.parametrize("depth", [jsontext.MAX_DEPTH + 1, 1_000, 10_000, 100_000])
@pytest.mark.parametrize(("label", "middle"), NESTINGS, ids=[n[0] for n in NESTINGS])
def test_nesting_past_the_cap_is_refused(label: str, middle: bytes, depth: int) -> None:
    """Deeper nesting raises ``TooDeeplyNested`` (a ``ValueError``), never ``RecursionError``."""
    with pytest.raises(jsontext.TooDeeplyNested):
        jsontext.loads(_nested(depth, middle))


def test_many_shallow_containers_are_not_too_deep() -> None:
    """Thousands of sibling containers are fine: only depth counts, not the bracket total."""
    raw = b'{"words": [' + b",".join([b'{"w": [1]}'] * 5_000) + b"]}"
    assert len(jsontext.loads(raw)["words"]) == 5_000


@pytest.mark.parametrize("raw", [b'{"score": NaN}', b"[Infinity]", b"-Infinity"])
def test_constants_can_be_refused(raw: bytes) -> None:
    """``constants=False`` refuses NaN and Infinity, which are not JSON."""
    assert jsontext.loads(raw) is not None
    with pytest.raises(ValueError, match="not allowed"):
        jsontext.loads(raw, constants=False)
