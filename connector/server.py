"""Serving the connector under gunicorn: threaded workers so many Retell calls can wait at once.

Settings are loaded in the master first, so a bad setting stops start-up with one line
before any worker forks; each worker then builds its own app (engine, HTTP pool).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from connector.settings import Settings

__all__ = ["GunicornServer"]


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn driven from code rather than a config file."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str,
        port: int,
        workers: int,
        threads: int,
        access_log: bool = False,
    ) -> None:
        self._settings = settings
        self._options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 120,
            "graceful_timeout": 20,
            "keepalive": 30,
            "backlog": 2048,
            "accesslog": "-" if access_log else None,
            "loglevel": settings.connector_log_level.lower(),
        }
        # Metrics from every worker, not just the one that answers /metrics.
        os.environ.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="connector-prom-")
        )
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        from connector.app import create_app

        return create_app(self._settings, run_delivery=True)
