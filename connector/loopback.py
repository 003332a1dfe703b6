"""Run a WSGI app on a loopback port in a background thread (demo, tests, benchmarks).

The port is bound at construction, so its URL is known before the app exists: the demo
tells the sandbox where the connector's webhook endpoint is, then builds the connector
against the sandbox, then starts serving.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["LoopbackServer"]


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request: embedded servers stay silent."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LoopbackServer:
    """``with LoopbackServer(app) as server: server.url`` — threaded, stops on exit."""

    def __init__(
        self, app: Any = None, *, host: str = "127.0.0.1", port: int = 0, quiet: bool = True
    ) -> None:
        self.app = app
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server: BaseWSGIServer = make_server(
            host, port, self._dispatch, threaded=True, request_handler=handler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"wsgi-{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            raise RuntimeError("LoopbackServer started before its app was set")
        return self.app(environ, start_response)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or ``timeout``); True once it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
