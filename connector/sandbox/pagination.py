"""Cursor pagination like Retell's ``{items, has_more, pagination_key}``.

The key is opaque to clients; inside it is the sort key of the last item returned, so a page
boundary stays put when new calls arrive (they sort after it in either direction).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from connector.sandbox.errors import ApiError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "decode_key",
    "encode_key",
    "paginate",
    "parse_limit",
]

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items and the key for the next one (None on the last page)."""

    items: list[T]
    has_more: bool
    pagination_key: str | None

    def body(self, render: Callable[[T], Mapping[str, Any]]) -> dict[str, Any]:
        """The JSON body Retell answers with."""
        body: dict[str, Any] = {"items": [render(i) for i in self.items], "has_more": self.has_more}
        if self.pagination_key is not None:
            body["pagination_key"] = self.pagination_key
        return body


def encode_key(sort_key: int) -> str:
    """Opaque cursor for the item with ``sort_key``."""
    return base64.urlsafe_b64encode(f"sbx:{sort_key}".encode()).decode().rstrip("=")


def decode_key(key: str) -> int:
    """Inverse of ``encode_key``; 400 for anything else."""
    try:
        text = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "sbx":
            raise ValueError(key)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError.bad_request("pagination_key is not valid.") from None


def parse_limit(raw: object) -> int:
    """Retell's ``limit``: default 50, 1..1000; accepts query-string digits too."""
    if raw is None:
        return DEFAULT_LIMIT
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_LIMIT:
        raise ApiError.bad_request(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return raw


def paginate(
    items: Sequence[T],
    sort_key: Callable[[T], int],
    *,
    limit: int,
    pagination_key: str | None,
    descending: bool,
) -> Page[T]:
    """Cut the page after ``pagination_key`` from ``items`` (already sorted as requested)."""
    rest = list(items)
    if pagination_key:
        after = decode_key(pagination_key)
        rest = [i for i in rest if (sort_key(i) < after if descending else sort_key(i) > after)]
    page, has_more = rest[:limit], len(rest) > limit
    key = encode_key(sort_key(page[-1])) if has_more and page else None
    return Page(page, has_more, key)
