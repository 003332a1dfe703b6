"""The P2 upstream: the Retell sandbox answering every request after a fixed delay.

Served by gunicorn (one process, since the sandbox keeps its calls in memory, and threads
enough for every connection to wait at once) rather than by the development server that
``retell-connector sandbox`` uses: that one closes the connection after every answer, so each
proxied call would pay for a new TCP connection and a new server thread that Retell's own
API, which keeps connections alive, does not charge.

Run: ``python -m bench.upstream --port 9001 --latency-ms 100``.
"""

from __future__ import annotations

import argparse

from flask import Flask

from connector.sandbox import SandboxConfig, sandbox_of
from connector.sandbox.app import create_sandbox_app
from connector.server import GunicornServer, gunicorn_options

THREADS = 256  # P2's 64 connections from wrk, or up to 128 pooled ones from the connector


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()
    # Calls stay "registered" for the whole run: the benchmark measures the create path only,
    # so no concurrency limit may end them early.
    config = SandboxConfig(
        latency_ms=args.latency_ms, ring_seconds=3600.0, concurrency_limit=10_000_000
    )

    def load() -> Flask:
        app = create_sandbox_app(config)
        sandbox_of(app).base_url = f"http://127.0.0.1:{args.port}"
        return app

    # Access logs off: the log is not what is measured, and writing it would take CPU from
    # the connector on the same two cores.
    options = gunicorn_options(
        host="127.0.0.1", port=args.port, workers=1, threads=THREADS, log_level="warning"
    )
    GunicornServer(load, options).run()


if __name__ == "__main__":
    main()
