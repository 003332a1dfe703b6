"""The P1 baseline: a bare Flask endpoint answering 204, under the connector's gunicorn
configuration (``connector.server.gunicorn_options``), so the ratio isolates our own work.

Run: ``python -m bench.baseline --port 9000``.
"""

from __future__ import annotations

import argparse

from flask import Flask, request

from connector.server import GunicornServer, gunicorn_options


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/webhooks/retell")
    def bare() -> tuple[str, int]:
        request.get_data()  # read the body, as the connector must
        return "", 204

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    options = gunicorn_options(
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        log_level="warning",
    )
    GunicornServer(create_app, options).run()


if __name__ == "__main__":
    main()
