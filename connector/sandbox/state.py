"""``Sandbox``: one simulated Retell account, everything the app and its threads share.

The app keeps it in ``app.extensions["retell_sandbox"]``; ``SandboxServer.state`` is the
same object, so tests can wait on calls, read counters and change the clock directly.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from flask import Flask, current_app

from connector.sandbox.calls import CallBook
from connector.sandbox.concurrency import Concurrency
from connector.sandbox.config import SandboxConfig
from connector.sandbox.faults import FaultQueue
from connector.sandbox.lifecycle import Lifecycle
from connector.sandbox.scheduler import Scheduler
from connector.sandbox.stats import Stats
from connector.sandbox.webhooks import WebhookSender

__all__ = ["EXTENSION", "Sandbox", "current_sandbox", "sandbox_of"]

EXTENSION = "retell_sandbox"


class Sandbox:
    """Calls, counters, concurrency, faults, the lifecycle clock and webhooks of one account.

    Threads start lazily (first call placed, first webhook queued), so an app that is only
    built and inspected costs nothing; ``close()`` stops them.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.base_url = "http://127.0.0.1"
        """Where the sandbox is reachable; used for recording and log URLs."""
        self.stats = Stats()
        self.faults = FaultQueue()
        self.book = CallBook()
        self.scheduler = Scheduler()
        self.webhooks = WebhookSender(self.stats, lambda: self.config)
        self.concurrency = Concurrency()
        self.lifecycle = Lifecycle(
            self.book,
            self.scheduler,
            self.webhooks,
            lambda: self.config,
            lambda: self.base_url,
            self.concurrency,
        )

    @property
    def config(self) -> SandboxConfig:
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> SandboxConfig:
        """Replace some settings while running (e.g. point webhooks at a late-bound URL)."""
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            return self._config

    def wait_for(
        self, call_id: str, phase: str = "analyzed", timeout: float = 10.0
    ) -> dict[str, Any]:
        """The call object once ``call_id`` reaches ``phase``; TimeoutError otherwise."""
        return self.book.wait_for(call_id, phase, timeout)

    @property
    def stopping(self) -> threading.Event:
        """Set when the sandbox closes, so waits (hangs, webhook backoff) end at once."""
        return self._stopping

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once when the sandbox closes (hung requests, latency)."""
        self._stopping.wait(seconds)

    def close(self) -> None:
        """Stop the clock and the webhook threads; pending steps and events are dropped."""
        self._stopping.set()
        self.scheduler.close()
        self.webhooks.close()


def sandbox_of(app: Flask) -> Sandbox:
    """The sandbox behind an app built by ``create_sandbox_app``."""
    sandbox: Sandbox = app.extensions[EXTENSION]
    return sandbox


def current_sandbox() -> Sandbox:
    """The sandbox of the app handling the current request."""
    return sandbox_of(current_app)
