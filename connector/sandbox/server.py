"""Run the sandbox: ``SandboxServer`` in-process for tests and demos, ``serve_sandbox`` in
the foreground for ``retell-connector sandbox``."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

from flask import Flask

from connector.loopback import LoopbackServer
from connector.sandbox.app import create_sandbox_app
from connector.sandbox.config import SandboxConfig
from connector.sandbox.state import Sandbox, sandbox_of

__all__ = ["SandboxServer", "serve_sandbox"]


class SandboxServer:
    """The sandbox on a real loopback port (a free one by default) in a daemon thread.

    ``with SandboxServer(config) as server:`` then point any Retell client at ``server.url``
    with ``server.config.api_key``; ``server.state`` is the live ``Sandbox``. Leaving the
    block stops the HTTP server, the lifecycle clock and the webhook senders.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
    ) -> None:
        self.app: Flask = create_sandbox_app(config)
        self.state: Sandbox = sandbox_of(self.app)
        self._http = LoopbackServer(self.app, host=host, port=port, quiet=quiet)
        self.state.base_url = self.url

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def config(self) -> SandboxConfig:
        return self.state.config

    def start(self) -> SandboxServer:
        self._http.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or ``timeout``); True once it has."""
        return self._http.wait(timeout)

    def close(self) -> None:
        self._http.close()
        self.state.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 8090
) -> None:
    """Serve the sandbox until Ctrl-C or SIGTERM, printing where it listens."""
    config = config or SandboxConfig()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        with SandboxServer(config, host=host, port=port, quiet=False) as server:
            hooks = config.webhook_url or "off"
            print(
                f"Retell sandbox listening on {server.url} (API key: {config.api_key}; "
                f"webhooks: {hooks})",
                flush=True,
            )
            while not server.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
