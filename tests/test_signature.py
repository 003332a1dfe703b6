"""Retell's webhook signature: known answer, and agreement with the official SDK both ways."""

from __future__ import annotations

import pytest
from retell.lib import webhook_auth

from connector.retell.signature import TOLERANCE_MS, SignatureError, sign, verify

BODY = '{"event":"call_ended"}'
KEY = "test-api-key"
TS = 1_700_000_000_000
KNOWN = "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e"
BODIES = [BODY, '{"event":"call_analyzed","call":{"transcript":"Agent: hé — ✓"}}', "", " \n{}"]


def test_known_answer() -> None:
    """The published test vector is reproduced exactly."""
    assert sign(BODY, KEY, timestamp_ms=TS) == KNOWN
    assert verify(BODY.encode(), KEY, KNOWN, now_ms=TS) == TS


@pytest.mark.parametrize("body", BODIES)
def test_sdk_verifies_our_signature(body: str) -> None:
    """What we sign, retell.lib.webhook_auth accepts."""
    header = sign(body, KEY, timestamp_ms=TS)
    assert webhook_auth.symmetric["verify"](body, KEY, header, {"timestamp": TS})


@pytest.mark.parametrize("body", BODIES)
def test_we_verify_the_sdk_signature(body: str) -> None:
    """What retell.lib.webhook_auth signs, we accept."""
    header = webhook_auth.symmetric["sign"](body, KEY, TS)
    assert verify(body.encode(), KEY, header, now_ms=TS) == TS


@pytest.mark.parametrize(
    ("body", "key", "header", "now"),
    [
        (BODY + " ", KEY, KNOWN, TS),
        (BODY, "other-key", KNOWN, TS),
        (BODY, KEY, KNOWN, TS + TOLERANCE_MS + 1),
        (BODY, KEY, KNOWN, TS - TOLERANCE_MS - 1),
        (BODY, KEY, KNOWN.upper().replace("V=", "v=").replace(",D=", ",d="), TS),
        (BODY, KEY, None, TS),
        (BODY, KEY, "", TS),
        (BODY, KEY, "v=abc,d=00", TS),
        (BODY, KEY, KNOWN + "00", TS),
        (BODY, KEY, "d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e", TS),
    ],
)
def test_rejections_agree_with_sdk(body: str, key: str, header: str | None, now: int) -> None:
    """Tampered, wrong-key, stale, future, uppercase, missing and garbled all fail, as in the SDK."""
    with pytest.raises(SignatureError):
        verify(body.encode(), key, header, now_ms=now)
    if header:
        assert not webhook_auth.symmetric["verify"](body, key, header, {"timestamp": now})


@pytest.mark.parametrize("offset", [-TOLERANCE_MS, TOLERANCE_MS])
def test_tolerance_edges_are_inclusive(offset: int) -> None:
    """Exactly five minutes either way is accepted, as by the SDK."""
    assert verify(BODY, KEY, KNOWN, now_ms=TS + offset) == TS
    assert webhook_auth.symmetric["verify"](BODY, KEY, KNOWN, {"timestamp": TS + offset})


def test_non_utf8_body_is_rejected() -> None:
    """A body that is not UTF-8 cannot match and raises the one error type."""
    with pytest.raises(SignatureError):
        verify(b"\xff\xfe", KEY, KNOWN, now_ms=TS)
