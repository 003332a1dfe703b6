"""The process's background loops (delivery, dialer), started, watched and stopped together.

``serve`` starts them in every gunicorn worker; ``retell-connector worker`` runs only them,
until SIGTERM. Each loop is a thread with the same small surface (``start``,
``request_stop``, ``stop``, ``alive``); the runner adds nothing but doing it for all of them.
"""

from __future__ import annotations

import threading
from typing import Protocol

__all__ = ["Loop", "Runner"]


class Loop(Protocol):
    """A background loop on a thread of its own."""

    @property
    def alive(self) -> bool: ...

    def start(self) -> object: ...

    def request_stop(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


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
