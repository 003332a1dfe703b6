"""The servers under test, each started exactly as a user would (``retell-connector serve``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import inspect

from bench.procs import Process
from bench.workload import RETELL_KEY, TOKEN
from connector.store.engine import create_store_engine
from connector.store.schema import migrate

__all__ = ["connector", "fresh_database", "subscribe", "worker"]


def fresh_database(postgres_url: str | None) -> str:
    """A database URL with empty connector tables: a new SQLite file, or PostgreSQL reset."""
    if postgres_url is None:
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-db-')) / 'connector.db'}"
    engine = create_store_engine(postgres_url, create_tables=False)
    with engine.begin() as conn:  # everything the migrations made, then made anew
        for name in inspect(conn).get_table_names():
            if name.startswith("connector_") or name == "alembic_version":
                conn.exec_driver_sql(f'DROP TABLE "{name}" CASCADE')
    migrate(engine)
    engine.dispose()
    return postgres_url


def _env(database_url: str, retell_base_url: str) -> dict[str, str]:
    return {
        "RETELL_API_KEY": RETELL_KEY,
        "RETELL_BASE_URL": retell_base_url,
        "CONNECTOR_API_TOKENS": TOKEN,
        "CONNECTOR_DATABASE_URL": database_url,
        "CONNECTOR_ALLOW_PRIVATE_TARGETS": "true",
    }


def connector(
    database_url: str,
    *,
    retell_base_url: str = "http://127.0.0.1:9",
    deliver: bool = True,
    port: int | None = None,
) -> Process:
    """``retell-connector serve`` (``deliver=False``: accept only, as with dedicated workers)."""
    env = {**_env(database_url, retell_base_url), "CONNECTOR_SERVE_DELIVERY": str(deliver).lower()}
    args = ["-m", "connector.cli", "serve", "--port", "{port}"]
    return Process(args, env=env, ready="/readyz", port=port)


def worker(database_url: str) -> Process:
    """``retell-connector worker``: a dedicated delivery process."""
    env = _env(database_url, "http://127.0.0.1:9")
    return Process(["-m", "connector.cli", "worker"], env=env, ready="")


def subscribe(server: Process, target_url: str) -> None:
    """Subscribe ``target_url``; retried briefly while gunicorn's workers finish booting."""
    for attempt in range(50):
        try:
            response = httpx.post(
                f"{server.url}/v1/triggers/call-events/subscriptions",
                json={"target_url": target_url, "events": ["call_ended", "call_analyzed"]},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            response.raise_for_status()
            return
        except httpx.TransportError:
            if attempt == 49:
                raise RuntimeError(f"connector unreachable; its log: {server.log_tail()}") from None
            time.sleep(0.1)
