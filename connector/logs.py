"""Logging that cannot leak, and that request threads do not queue for.

Secrets, signatures, bearer tokens and phone numbers are masked by a filter on the one
handler that writes, so it covers every logger (ours, Flask's, gunicorn's, httpx's)
whatever a message contains, tracebacks included.

Records are written by a thread of their own (the standard library's ``QueueHandler`` and
``QueueListener``): a request thread only hands its record over. Writing under the
handler's lock made 16 busy request threads queue behind each other's ``write`` calls,
which cost about a fifth of an ingested event's CPU. What is still queued is written when
the process exits normally; a killed process can lose its last few lines, never more.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import re
import sys
from logging.handlers import QueueHandler, QueueListener

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


class _Writer:
    """The thread that writes queued records to stderr, restarted in a forked child."""

    def __init__(self, handler: logging.Handler) -> None:
        self.queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._listener = QueueListener(self.queue, handler)
        self._listener.start()

    def restart_after_fork(self) -> None:
        # A child inherits the queue but not the thread that empties it.
        self._listener._thread = None  # QueueListener.start refuses a second start otherwise
        self._listener.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        if self._listener._thread is not None:
            self._listener.stop()


_writer: _Writer | None = None


def _stop_writer() -> None:
    if _writer is not None:
        _writer.stop()


def _restart_writer() -> None:
    if _writer is not None:
        _writer.restart_after_fork()


atexit.register(_stop_writer)
os.register_at_fork(after_in_child=_restart_writer)


def configure_logging(level: str, *, secrets: list[str] | None = None) -> None:
    """The root logger hands records to one writer thread: stderr, with redaction."""
    global _writer
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_retell_connector", False):
            root.removeHandler(existing)
    _stop_writer()  # configured again (tests, the demo): the old writer finishes first
    _writer = _Writer(handler)
    queued = QueueHandler(_writer.queue)
    queued._retell_connector = True  # type: ignore[attr-defined]
    root.addHandler(queued)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
