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
