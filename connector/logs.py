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
    """The thread that writes queued records to stderr; a forked child starts its own."""

    def __init__(self, handler: logging.Handler) -> None:
        self._handler = handler
        self._listener: QueueListener | None = None
        self.queued = QueueHandler(queue.SimpleQueue())  # what the root logger hands to
        self.start()

    def start(self) -> None:
        """A new queue and a thread emptying it. After a fork the child has no thread, and the
        queue it inherited may hold the parent's records (the parent writes those) and a
        lock taken by the parent's thread waiting on it, so it starts afresh."""
        self.queued.queue = records = queue.SimpleQueue[logging.LogRecord]()
        self._listener = QueueListener(records, self._handler)
        self._listener.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def hold(self) -> None:
        """Wait out a write in progress and keep the next from starting (across a fork: a
        child forked mid-write inherits the stream's lock held, and its writes hang)."""
        self._handler.acquire()

    def release(self) -> None:
        self._handler.release()


_writer: _Writer | None = None


def _stop_writer() -> None:
    if _writer is not None:
        _writer.stop()


def _before_fork() -> None:
    if _writer is not None:
        _writer.hold()


def _after_fork_in_parent() -> None:
    if _writer is not None:
        _writer.release()


def _after_fork_in_child() -> None:
    # ``logging`` has made the handler's lock anew in the child; only the thread is missing.
    if _writer is not None:
        _writer.start()


atexit.register(_stop_writer)
os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


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
    _writer.queued._retell_connector = True  # type: ignore[attr-defined]
    root.addHandler(_writer.queued)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
