"""What the console shows of sensitive values: phone numbers and subscriber URLs, masked.

Pure functions (no Flask). A full phone number appears only on a single call's page; lists
show the country code and the last two digits. A target URL's query string often carries a
key (``?token=...``), so it is replaced by ``?…``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["mask_phone", "mask_url"]


def mask_phone(number: object) -> str:
    """``+14155550123`` → ``+1•••••••••23``; anything too short to mask becomes ``•••``."""
    if not isinstance(number, str) or not number:
        return "—"
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 6:
        return "•••"
    head = "+" + digits[0] if number.startswith("+") else ""
    hidden = len(digits) - len(head.lstrip("+")) - 2
    return f"{head}{'•' * hidden}{digits[-2:]}"


def mask_url(url: str) -> str:
    """The URL without user:password and with ``?…`` for its query string."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(unreadable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port is not None:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}{parts.path}" + ("?…" if parts.query else "")
