"""Logging: every line redacted (tracebacks too), written by its own thread, none lost at exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from connector.logs import redact

SECRET = "s3cret-value-0123456789"


def _stderr_of(script: str) -> str:
    """What a fresh Python process that configured the connector's logging wrote to stderr."""
    prelude = (
        "import logging\n"
        "from connector.logs import configure_logging\n"
        f"configure_logging('INFO', secrets=[{SECRET!r}])\n"
        "log = logging.getLogger('connector.test')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123", "Authorization: [redacted]"),
        ("token Bearer abc.def-123", "abc.def-123", "Bearer [redacted]"),
        ('{"authorization": "key_live_1"}', "key_live_1", "[redacted]"),
        ("x-retell-signature v=1700000000,d=abcdef0123", "d=abcdef0123", "[signature redacted]"),
        ("webhook-signature v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "K5oZ", "[signature"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8", "[secret redacted]"),
        ("dialling +1 (415) 555-0123 now", "555-01", "+…23"),
    ],
)
def test_redact_masks_what_must_not_be_logged(text: str, hidden: str, kept: str) -> None:
    """Tokens, signatures, signing secrets and phone numbers are masked in any message."""
    masked = redact(text)
    assert hidden not in masked
    assert kept in masked


def test_queued_lines_are_written_before_a_normal_exit() -> None:
    """Every line handed to the writer thread reaches stderr, redacted, by the time of exit."""
    err = _stderr_of(
        """
        for n in range(500):
            log.info("line %d for +14155550123 with %s", n, "s3cret-value-0123456789")
        """
    )
    lines = [line for line in err.splitlines() if "connector.test" in line]
    assert len(lines) == 500
    assert lines[-1].endswith("line 499 for +…23 with [redacted]")
    assert SECRET not in err and "4155550123" not in err


def test_a_traceback_is_redacted_too() -> None:
    """An exception logged with its traceback cannot carry a secret past the filter."""
    err = _stderr_of(
        """
        try:
            raise RuntimeError("upstream said Bearer s3cret-value-0123456789")
        except RuntimeError:
            log.exception("call failed")
        """
    )
    assert "Traceback" in err and "RuntimeError: upstream said Bearer [redacted]" in err
    assert SECRET not in err


def test_a_forked_child_still_writes() -> None:
    """A process forked after logging was configured (a gunicorn worker) gets its own writer,
    even when it forks while the parent's writer is busy."""
    err = _stderr_of(
        """
        import os
        log.info("parent before fork")
        pid = os.fork()
        if pid == 0:
            log.info("child %d writes", os.getpid())
            raise SystemExit(0)  # a normal exit, as a gunicorn worker's
        os.waitpid(pid, 0)
        log.info("parent after fork")
        """
    )
    assert "parent before fork" in err and "parent after fork" in err
    assert " writes" in err and "child" in err
    assert err.count("parent before fork") == 1  # the child does not write the parent's too


def test_lines_are_written_while_the_process_runs() -> None:
    """The writer does not hold lines for the exit: a process killed a moment after logging
    (no exit handlers run) has still written them."""
    err = _stderr_of(
        """
        import os, time
        log.info("written before the kill")
        time.sleep(0.5)
        os._exit(0)  # as a kill: nothing is flushed at exit
        """
    )
    assert "written before the kill" in err


def test_a_line_keeps_its_arguments_as_they_were_when_logged() -> None:
    """The writer thread writes a line later, but with the arguments' values of the call."""
    err = _stderr_of(
        """
        seen = ["first"]
        log.info("saw %s", seen)
        seen.append("second")
        """
    )
    assert "saw ['first']" in err


def test_lines_logged_by_many_threads_at_once_are_all_written() -> None:
    """Threads hand records over without the handler's lock, and none is lost or mixed."""
    err = _stderr_of(
        """
        import threading
        def work(t):
            for n in range(300):
                log.info("thread %d line %d", t, n)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
        for thread in threads: thread.start()
        for thread in threads: thread.join()
        """
    )
    lines = [line for line in err.splitlines() if "connector.test: thread" in line]
    assert len(lines) == 16 * 300
    assert {line.split(": ", 1)[1] for line in lines} == {
        f"thread {t} line {n}" for t in range(16) for n in range(300)
    }
