"""Logging that cannot leak: secrets, signatures, bearer tokens and phone numbers are masked.

The filter sits on the handler, so it covers every logger (ours, Flask's, gunicorn's,
httpx's) whatever a message contains.
"""

from __future__ import annotations

import logging
import re
import sys

__all__ = ["RedactingFilter", "configure_logging", "redact"]

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+"), r"\1[redacted]"),
    (re.compile(r"v=\d+,d=[0-9a-fA-F]+"), "[signature redacted]"),
    (re.compile(r"v1,[A-Za-z0-9+/=]+"), "[signature redacted]"),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "[secret redacted]"),
    # E.164-like numbers: keep the last two digits so support can still tell calls apart.
    (re.compile(r"\+\d[\d\s().-]{5,}(\d{2})\b"), r"+…\1"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with ``redact``."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or []) if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        return True


def configure_logging(level: str, *, secrets: list[str] | None = None) -> None:
    """One stderr handler on the root logger, with redaction."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_retell_connector", False):
            root.removeHandler(existing)
    handler._retell_connector = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
