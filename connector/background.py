"""The process's background loops (delivery, dialer), started, watched and stopped together.

``serve`` starts them in every gunicorn worker; ``retell-connector worker`` runs only them,
until SIGTERM. Each loop is a thread with the same small surface (``start``,
``request_stop``, ``stop``, ``alive``); the runner adds nothing but doing it for all of them.
``LoopThread`` is that surface for a loop of ``run_once`` turns.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, Self

__all__ = ["Loop", "LoopThread", "Runner"]

log = logging.getLogger(__name__)


class Loop(Protocol):
    """A background loop on a thread of its own."""

    @property
    def alive(self) -> bool: ...

    def start(self) -> object: ...

    def request_stop(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class LoopThread:
    """``run_once`` turns on a daemon thread until stopped: the next turn at once after a busy
    one, else after ``idle_seconds`` or a ``wake``; an error is logged and the loop goes on."""

    thread_name = "loop"

    def __init__(self, *, idle_seconds: float) -> None:
        self._idle = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One turn; how much work it started (0: idle)."""
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
            except Exception:
                log.exception("%s loop failed; retrying", self.thread_name)
                busy = False
            if not busy:
                self._wake.wait(self._idle)
                self._wake.clear()

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self) -> None:
        """Ask ``run`` to return after the current turn (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask ``run`` to return and wait for it; subclasses then close what the turns used."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)


class Runner:
    """Named loops, all started and stopped at once."""

    def __init__(self, loops: dict[str, Loop]) -> None:
        self._loops = dict(loops)
        self._stopping = threading.Event()

    def start(self) -> Runner:
        for loop in self._loops.values():
            loop.start()
        return self

    def request_stop(self) -> None:
        """Ask every loop to finish (safe from a signal handler)."""
        self._stopping.set()
        for loop in self._loops.values():
            loop.request_stop()

    def wait(self) -> bool:
        """Block until ``request_stop`` or a loop dies, then stop them all; False if one died
        (the process should exit with an error, so its supervisor restarts it)."""
        while not self._stopping.wait(1.0):
            if not all(loop.alive for loop in self._loops.values()):
                self.stop()
                return False
        self.stop()
        return True

    def stop(self) -> None:
        """Stop every loop: each finishes and records what it has under way."""
        self.request_stop()
        for loop in self._loops.values():
            loop.stop()
