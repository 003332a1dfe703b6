"""Which platform token a caller holds, as the owner name stored on everything it creates.

The API (bearer header) and the console (sign-in form) both go through here, so a token
sees the same objects in both. The owner is a hash of the token: the token itself is never
stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

__all__ = ["match_token", "owner_of"]


def owner_of(token: str) -> str:
    """The owner name of ``token`` (16 hex digits of its SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def match_token(known: Iterable[str], presented: str) -> str | None:
    """The owner of ``presented`` if it is one of ``known``, else None; constant-time against
    every known token, so the time taken does not tell which one came close."""
    matched = False
    for candidate in known:
        matched |= hmac.compare_digest(candidate.encode(), presented.encode())
    return owner_of(presented) if matched else None
