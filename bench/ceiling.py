"""``python -m bench.ceiling [--quick]``: how close P1's and P2's ratio goals can be got at all.

Two stripped servers run under the connector's gunicorn options, each doing only the work
its metric cannot do without, with none of the connector's framework around it:

- **ingest**: a raw WSGI app that reads the body, checks the Retell signature, parses it,
  builds the forwarded event with the connector's own ``build_event`` and ``jsontext``, and
  commits it to the connector's ``events`` table with plain ``sqlite3`` (group-committed,
  WAL, behind the same writer ``flock``). No Flask, SQLAlchemy, logging, metrics or
  subscription look-up.
- **proxy**: a raw WSGI app that forwards each Create Phone Call body to the upstream over
  one kept-alive ``httpx`` pool and returns the answer. No validation, idempotency or store.

Each is measured exactly as P1 or P2 measures the connector (distinct requests, wrk, the same
baseline, rounds interleaved, medians), so its ratio bounds what any connector built on
this stack (CPython, gunicorn's gthread workers, httpx, SQLite) can reach on this machine.
The report goes to ``bench/results/ceiling.json``.

Servers: ``python -m bench.ceiling serve-ingest --port P --database PATH`` and
``python -m bench.ceiling serve-proxy --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import run
from bench.metrics import (
    P2_IDEAL_RPS,
    Metric,
    Size,
    bare_endpoint_round,
    direct_upstream_round,
    median,
    run_once,
    stored_events,
    upstream,
)
from bench.procs import Process
from bench.servers import fresh_database
from bench.workload import RETELL_KEY, create_call_requests, signed_events
from bench.wrk import WrkResult, ensure_wrk
from connector import jsontext
from connector.events import build_event, dedupe_key
from connector.retell.signature import verify
from connector.server import GunicornServer, gunicorn_options
from connector.store.engine import create_store_engine

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results" / "ceiling.json"

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_INSERT = (
    "INSERT INTO connector_events (id, dedupe_key, event, call_id, agent_id, body, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


class _SqliteGroupCommit:
    """Leader/follower group commit: whoever holds the lock commits every waiting row."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._writer = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._waiting: list[list[Any]] = []  # [row, outcome]: None, True or the error
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def commit(self, row: tuple[Any, ...]) -> None:
        mine: list[Any] = [row, None]
        with self._queue_lock:
            self._waiting.append(mine)
        with self._commit_lock:
            if mine[1] is None:
                with self._queue_lock:
                    batch, self._waiting = self._waiting, []
                self._commit_batch(batch)
        if mine[1] is not True:
            raise RuntimeError("the write failed") from mine[1]

    def _commit_batch(self, batch: list[list[Any]]) -> None:
        fcntl.flock(self._writer, fcntl.LOCK_EX)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(_INSERT, [entry[0] for entry in batch])
            self._db.execute("COMMIT")
            outcome: Any = True
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            outcome = exc
        finally:
            fcntl.flock(self._writer, fcntl.LOCK_UN)
        for entry in batch:
            entry[1] = outcome


def ingest_app(database: str) -> Wsgi:
    store = _SqliteGroupCommit(database)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = environ["wsgi.input"].read()
        verify(raw, RETELL_KEY, environ.get("HTTP_X_RETELL_SIGNATURE"))
        payload = jsontext.loads(raw)
        event, call = payload["event"], payload["call"]
        now = time.time()
        body = build_event(event, call, received_at_ms=int(now * 1000))
        row = (
            body["id"],
            dedupe_key(event, call),
            event,
            call["call_id"],
            call.get("agent_id"),
            jsontext.dumps(body),
            now,
        )
        store.commit(row)
        start_response("204 No Content", [])
        return [b""]

    return app


def proxy_app(upstream: str) -> Wsgi:
    client = httpx.Client(
        base_url=upstream,
        limits=httpx.Limits(max_connections=128, max_keepalive_connections=128),
        headers={"Authorization": f"Bearer {RETELL_KEY}", "Content-Type": "application/json"},
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answer = client.post("/v2/create-phone-call", content=environ["wsgi.input"].read())
        start_response(
            f"{answer.status_code} {answer.reason_phrase}", [("Content-Type", "application/json")]
        )
        return [answer.content]

    return app


def _serve(load: Callable[[], Wsgi], port: int) -> None:
    options = gunicorn_options(
        host="127.0.0.1", port=port, workers=2, threads=64, log_level="warning"
    )
    GunicornServer(load, options).run()


def _ingest_ceiling(size: Size) -> Metric:
    ceiling: list[WrkResult] = []
    bare: list[WrkResult] = []
    for round_ in range(size.rounds):
        bare.append(bare_endpoint_round(size, tag=f"cb{round_}"))
        events = signed_events(size.events, tag=f"cc{round_}")
        database_url = fresh_database(None)
        create_store_engine(database_url).dispose()  # the connector's tables, in WAL mode
        database = database_url.removeprefix("sqlite:///")
        args = ["-m", "bench.ceiling", "serve-ingest", "--port", "{port}", "--database", database]
        with Process(args) as server:
            result = run_once(f"{server.url}/v1/webhooks/retell", events, connections=16)
        ceiling.append(result)
        if stored_events(database_url) < result.requests - result.non2xx:
            raise RuntimeError("the ingest ceiling acknowledged events it did not store")
    rps, base_rps = median([r.rps for r in ceiling]), median([r.rps for r in bare])
    return Metric(
        "P1 ceiling: verify, parse, build, commit (raw WSGI + sqlite3)",
        rps,
        "req/s",
        base_rps,
        rps / base_rps,
        "P1's ratio goal ≥ 0.80",
        rps / base_rps >= 0.80,
        {"p50_ms": median([r.p50_ms for r in ceiling]), "non2xx": sum(r.non2xx for r in ceiling)},
    )


def _proxy_ceiling(size: Size) -> Metric:
    ceiling: list[WrkResult] = []
    direct: list[WrkResult] = []
    for _ in range(size.rounds):
        direct.append(direct_upstream_round(size))
        # No connector token: the proxy adds the upstream's key itself.
        calls: list[tuple[dict[str, str], str]] = [
            ({}, body) for _headers, body in create_call_requests(size.calls)
        ]
        with upstream() as up:
            proxy = ["-m", "bench.ceiling", "serve-proxy", "--port", "{port}", "--upstream", up.url]
            with Process(proxy) as server:
                url = f"{server.url}/v1/actions/create-phone-call"
                ceiling.append(run_once(url, calls, connections=64))
    rps, direct_rps = median([r.rps for r in ceiling]), median([r.rps for r in direct])
    return Metric(
        "P2 ceiling: pass-through proxy (raw WSGI + httpx)",
        rps,
        "req/s",
        P2_IDEAL_RPS,
        rps / P2_IDEAL_RPS,
        "P2's ratio goal ≥ 0.85",
        rps / P2_IDEAL_RPS >= 0.85,
        {
            "p50_ms": median([r.p50_ms for r in ceiling]),
            "non2xx": sum(r.non2xx for r in ceiling),
            "upstream_direct_rps": direct_rps,
            "upstream_direct_ratio": direct_rps / P2_IDEAL_RPS,
        },
    )


def _measure(quick: bool, out: Path) -> int:
    ensure_wrk()
    size = run.QUICK if quick else run.FULL
    started = time.monotonic()
    metrics = [_ingest_ceiling(size), _proxy_ceiling(size)]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count()},
        "metrics": [m.as_dict() for m in metrics],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(run.table(metrics))
    print(f"\n{len(metrics)} ceilings in {report['seconds']} s; written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    ingest = commands.add_parser("serve-ingest")
    ingest.add_argument("--port", type=int, required=True)
    ingest.add_argument("--database", required=True)
    proxy = commands.add_parser("serve-proxy")
    proxy.add_argument("--port", type=int, required=True)
    proxy.add_argument("--upstream", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.command == "serve-ingest":
        _serve(lambda: ingest_app(args.database), args.port)
    elif args.command == "serve-proxy":
        _serve(lambda: proxy_app(args.upstream), args.port)
    else:
        return _measure(args.quick, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
