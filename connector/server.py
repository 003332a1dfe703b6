"""Serving the connector under gunicorn: threaded workers so many Retell calls can wait at once.

Gunicorn's own errors (a request line or header over the limits in ``connector.limits``)
are answered in problem+json by the worker class (``connector.gunicorn_worker``).
Settings are loaded in the master first, so a bad setting stops start-up with one line
before any worker forks; each worker then builds its own app (engine, HTTP pool, delivery
loop). ``gunicorn_options`` is the one server configuration, shared with the benchmarks'
baseline so both are measured under the same server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from connector.limits import MAX_HEADER_BYTES, MAX_HEADERS, MAX_REQUEST_LINE_BYTES
from connector.settings import Settings

__all__ = ["GunicornServer", "gunicorn_options"]


def gunicorn_options(
    *, host: str, port: int, workers: int, threads: int, log_level: str = "info"
) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "connector.gunicorn_worker.ProblemWorker",  # gthread, problem+json
        "threads": threads,
        "limit_request_line": MAX_REQUEST_LINE_BYTES,
        "limit_request_field_size": MAX_HEADER_BYTES,
        "limit_request_fields": MAX_HEADERS,
        "timeout": 120,
        "graceful_timeout": 20,
        "keepalive": 30,
        "backlog": 2048,
        "loglevel": log_level,
    }


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn driven from code rather than a config file; ``load`` builds each worker's app."""

    def __init__(self, load: Callable[[], Any], options: dict[str, Any]) -> None:
        self._load = load
        self._options = options
        super().__init__()

    @classmethod
    def for_connector(
        cls, settings: Settings, *, host: str, port: int, workers: int, threads: int
    ) -> GunicornServer:
        # Metrics from every worker, not just the one that answers /metrics.
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="connector-prom-")
        )

        # Imported here, in the master, so the forked workers share the imported modules
        # rather than each importing them again (about 0.45 CPU-seconds per worker start).
        # Only code is shared: each worker still builds its own app, engine and threads.
        from connector.app import create_app

        def load() -> Any:
            return create_app(settings, run_delivery=settings.connector_serve_delivery)

        options = gunicorn_options(
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            log_level=settings.connector_log_level.lower(),
        )
        return cls(load, options)

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load()
