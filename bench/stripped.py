"""The ceiling programs: the connector's work stripped to what it cannot do without.

Each ratio goal of issue 15 is stated against one of these, measured in the same run:

- **ingest** (P1): a raw WSGI app that reads the body, checks the Retell signature, parses
  it, builds the forwarded event with the connector's own ``build_event`` and ``jsontext``,
  and group-commits it to the connector's ``events`` table with plain ``sqlite3`` or
  ``psycopg`` (``bench.rawdb``). No Flask, SQLAlchemy, logging, metrics, subscription
  look-up or deliveries.
- **proxy** (P2): a raw WSGI app that forwards each Create Phone Call body to the upstream
  over one kept-alive ``httpx`` pool and returns the answer. No validation, idempotency or
  store.
- **sender** (P3): claims due deliveries from the connector's tables, POSTs each, signed
  with the connector's Standard Webhooks signing, from 32 threads, each straight to a
  pooled, kept-alive ``httpx`` transport of its own, and records the outcome (the
  delivery's state and its attempt row) in batches. No leases taken back, retry schedule,
  SSRF guard, subscription health or logs.

The two servers run under the connector's gunicorn options (2 workers x 64 threads).

Run: ``python -m bench.stripped serve-ingest --port P --database URL``,
``python -m bench.stripped serve-proxy --port P --upstream URL``,
``python -m bench.stripped send --database URL`` (until SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.rawdb import GroupCommit, RawStore
from bench.workload import RETELL_KEY
from connector import jsontext
from connector.delivery.factory import CONNECTIONS_PER_SENDER
from connector.delivery.signing import signed_headers
from connector.events import build_event, dedupe_key
from connector.per_thread import pools_per_thread
from connector.retell.signature import verify
from connector.server import GunicornServer, gunicorn_options

__all__ = ["ingest_app", "proxy_app", "send"]

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_INSERT_EVENT = (
    "INSERT INTO connector_events (id, dedupe_key, event, call_id, agent_id, body, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def ingest_app(database_url: str) -> Wsgi:
    store = GroupCommit(RawStore(database_url), _INSERT_EVENT)

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
    # One pool for all threads: a pool per thread (as the connector's Retell client keeps)
    # cost this ceiling more CPU per call (962-1,154 against 855-929 µs), each of its 128
    # threads opening a connection of its own in every round's fresh server.
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


# --- the stripped sender ------------------------------------------------------------------

SENDERS = 32
_CLAIM_BATCH = 64
_LEASE_SECONDS = 60.0
_DUE = (
    "SELECT id FROM connector_deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
    " ORDER BY next_attempt_at LIMIT ?"
)
_JOBS = (
    "SELECT d.id, d.event_id, e.body, s.target_url, s.secret FROM connector_deliveries d"
    " JOIN connector_events e ON e.id = d.event_id"
    " JOIN connector_subscriptions s ON s.id = d.subscription_id WHERE d.id IN ({ids})"
)
_ATTEMPT = (
    "INSERT INTO connector_delivery_attempts (delivery_id, attempt, at, status_code, error,"
    " duration_ms, response_body) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SETTLE = (
    "UPDATE connector_deliveries SET state = ?, attempts = attempts + 1, last_status = ?,"
    " last_error = ?, next_attempt_at = ?, delivered_at = ?, lease_until = NULL,"
    " leased_by = NULL WHERE id = ? AND leased_by = ?"
)

Job = tuple[str, str, str, str, str]  # delivery id, event id, body, target URL, secret
Outcome = tuple[str, int | None, str | None, float, float]  # id, status, error, at, ms


def _claim(store: RawStore, name: str, limit: int) -> list[Job]:
    now = time.time()
    due = _DUE + ("" if store.sqlite else " FOR UPDATE SKIP LOCKED")
    with store.transaction() as cursor:
        cursor.execute(store.sql(due), (now, limit))
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        cursor.execute(
            store.sql(
                "UPDATE connector_deliveries SET state = 'delivering', lease_until = ?,"
                f" leased_by = ? WHERE id IN ({marks})"
            ),
            (now + _LEASE_SECONDS, name, *ids),
        )
        cursor.execute(store.sql(_JOBS.format(ids=marks)), ids)
        return [tuple(row) for row in cursor.fetchall()]


def _record(store: RawStore, name: str, outcomes: list[Outcome]) -> None:
    attempts, settles = [], []
    for delivery_id, status, error, at, ms in outcomes:
        ok = status is not None and 200 <= status < 300
        attempts.append((delivery_id, 1, at, status, error, ms, None))
        state, retry_at = ("succeeded", None) if ok else ("pending", at + 60.0)
        settles.append((state, status, error, retry_at, at if ok else None, delivery_id, name))
    with store.transaction() as cursor:
        cursor.executemany(store.sql(_ATTEMPT), attempts)
        cursor.executemany(store.sql(_SETTLE), settles)


def send(database_url: str, stop: threading.Event) -> None:
    """Deliver due deliveries until ``stop`` is set."""
    name = f"{socket.gethostname()}:{os.getpid()}:stripped"
    claims, recorder_store = RawStore(database_url), RawStore(database_url)
    # Straight to pooled, kept-alive transports, one per sender thread, as the connector's
    # sender does (``connector.per_thread``): none of httpx.Client's per-request cookies,
    # auth, redirects or default headers, and no walk of one pool shared by all.
    transport = pools_per_thread(CONNECTIONS_PER_SENDER)
    timeout = httpx.Timeout(15.0).as_dict()
    outcomes: queue.SimpleQueue[Outcome | None] = queue.SimpleQueue()
    capacity, claimed = 2 * SENDERS, [0]  # claimed and not yet recorded
    lock, wake = threading.Lock(), threading.Event()

    def deliver(job: Job) -> None:
        delivery_id, event_id, body, target, secret = job
        started = time.time()
        try:
            headers = signed_headers(secret, event_id, body, now=started)
            request = httpx.Request(
                "POST",
                target,
                content=body.encode(),
                headers=headers,
                extensions={"timeout": timeout},
            )
            response = transport.handle_request(request)
            response.read()
            response.close()
            status: int | None = response.status_code
            error = None
        except httpx.HTTPError as exc:
            status, error = None, type(exc).__name__
        outcomes.put((delivery_id, status, error, started, (time.time() - started) * 1000))

    def record() -> None:
        while True:
            first = outcomes.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 256:
                try:
                    more = outcomes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    outcomes.put(None)
                    break
                batch.append(more)
            _record(recorder_store, name, batch)
            with lock:
                claimed[0] -= len(batch)
            wake.set()

    recorder = threading.Thread(target=record, name="stripped-recorder")
    recorder.start()
    with ThreadPoolExecutor(SENDERS, thread_name_prefix="stripped-send") as pool:
        while not stop.is_set():
            with lock:
                free, idle = capacity - claimed[0], claimed[0] == 0
            # As the connector's worker: claim a quarter of the room at least, unless idle
            # (fewer, larger claim transactions); woken when outcomes are recorded.
            jobs = _claim(claims, name, min(_CLAIM_BATCH, free)) if idle or free >= 16 else []
            with lock:
                claimed[0] += len(jobs)
            for job in jobs:
                pool.submit(deliver, job)
            if not jobs:
                wake.wait(0.5)
                wake.clear()
    outcomes.put(None)
    recorder.join()
    transport.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stripped", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("serve-ingest")
    ingest.add_argument("--port", type=int, required=True)
    ingest.add_argument("--database", required=True, help="a connector database URL")
    proxy = commands.add_parser("serve-proxy")
    proxy.add_argument("--port", type=int, required=True)
    proxy.add_argument("--upstream", required=True)
    sender = commands.add_parser("send")
    sender.add_argument("--database", required=True, help="a connector database URL")
    args = parser.parse_args(argv)
    if args.command == "serve-ingest":
        _serve(lambda: ingest_app(args.database), args.port)
    elif args.command == "serve-proxy":
        _serve(lambda: proxy_app(args.upstream), args.port)
    else:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print("stripped sender running", flush=True)
        send(args.database, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
