"""The P2 upstream: the Retell sandbox answering every request after a fixed delay.

Run: ``python -m bench.upstream --port 9001 --latency-ms 100``.
"""

from __future__ import annotations

import argparse

from connector.sandbox import SandboxConfig, serve_sandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()
    # Calls stay "registered" for the whole run: the benchmark measures the create path only.
    config = SandboxConfig(latency_ms=args.latency_ms, ring_seconds=3600.0)
    # No access-log line per request: the log is not what is measured, and writing it would
    # take CPU from the connector on the same two cores.
    serve_sandbox(config, port=args.port, quiet=True)


if __name__ == "__main__":
    main()
