"""Logging that cannot leak, and that request threads do not queue for.

Secrets, signatures, bearer tokens and phone numbers are masked by a filter on the one
handler that writes, so it covers every logger (ours, Flask's, gunicorn's, httpx's)
whatever a message contains, tracebacks included.

Records are written by a thread of their own: a request thread only hands its record over.
Writing under the handler's lock made 16 busy request threads queue behind each other's
``write`` calls, which cost about a fifth of an ingested event's CPU. The hand-over takes no
lock either: the standard library's ``QueueHandler`` holds its handler lock to put a record
on a queue that needs none, and formats and copies the record there only to have the writer
format it again; with 16 threads logging flat out that was ~45 µs of CPU a line, against
~11 µs for the message merged and the record put on the queue (``bench/README.md``, P1).

The writer wakes at most every ``WRITE_INTERVAL`` and writes what gathered meanwhile: the
standard library's ``QueueListener`` wakes for every record, and waking a thread (and
handing the interpreter lock back and forth) cost an ingested event ~290 µs of CPU, more
than the rest of its logging. What is still queued is written when the process exits
normally; a killed process can lose its last fraction of a second of lines, never more.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import re
import sys
import threading
import time
from typing import Any

__all__ = ["WRITE_INTERVAL", "RedactingFilter", "configure_logging", "redact"]

WRITE_INTERVAL = 0.05
"""Seconds the writer lets records gather after one arrives: at most 20 wake-ups a second."""

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
    """Rewrites each record's final message, traceback included, with ``redact``."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self._secrets = [s for s in (secrets or []) if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info or record.exc_text or record.stack_info:  # into the message, masked
            message = _traceback_text.format(record)
            record.exc_info = record.exc_text = record.stack_info = None
        message = redact(message)
        for secret in self._secrets:
            message = message.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        return True


_traceback_text = logging.Formatter("%(message)s")  # the message, then its traceback


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a line is written, not when logging was set up:
    lines are written a moment after they are logged, and whoever replaced ``sys.stderr``
    meanwhile (a test's capture, ended and closed) must not make them fail."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # always the current sys.stderr


class _Handoff(logging.Handler):
    """Puts each record on the writer's queue with its message merged, without a lock."""

    def __init__(self, records: queue.SimpleQueue[logging.LogRecord | None]) -> None:
        super().__init__()
        self.queue = records

    def handle(self, record: logging.LogRecord) -> bool:
        if self.filters and not self.filter(record):
            return False
        # The message is merged here, in the logging thread, so that arguments changed
        # after the call do not change the line; the writer formats the rest.
        try:
            record.msg, record.args = record.getMessage(), None
        except Exception:
            self.handleError(record)
            return False
        self.queue.put(record)  # SimpleQueue: thread-safe without the handler's lock
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


class _Writer:
    """The thread that writes queued records to stderr; a forked child starts its own."""

    _STOP = None  # queued by ``stop``: write what came before, then end

    def __init__(self, handler: logging.Handler) -> None:
        self._handler = handler
        self._thread: threading.Thread | None = None
        self._records: queue.SimpleQueue[logging.LogRecord | None]
        self.queued = _Handoff(queue.SimpleQueue())  # what the root logger hands to
        self.start()  # gives both their queue

    def start(self) -> None:
        """A new queue and a thread emptying it. After a fork the child has no thread, and the
        queue it inherited may hold the parent's records (the parent writes those) and a
        lock taken by the parent's thread waiting on it, so it starts afresh."""
        self._records = queue.SimpleQueue()
        self.queued.queue = self._records
        self._thread = threading.Thread(
            target=self._write_until_stopped, args=(self._records,), name="log-writer", daemon=True
        )
        self._thread.start()

    def _write_until_stopped(self, records: queue.SimpleQueue[logging.LogRecord | None]) -> None:
        while True:
            batch = [records.get()]
            if batch[0] is not self._STOP:
                time.sleep(WRITE_INTERVAL)  # let the lines of the next moments join this wake-up
            while batch[-1] is not self._STOP:
                try:
                    batch.append(records.get_nowait())
                except queue.Empty:
                    break
            for record in batch:
                if record is self._STOP:
                    return
                self._handler.handle(record)

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        if self._thread is not None:
            self._records.put(self._STOP)
            self._thread.join()
            self._thread = None

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
    handler = _StderrHandler()
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
