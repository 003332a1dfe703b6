"""Engines tuned per backend, so the rest of the store can stay dialect-neutral.

SQLite: WAL journal, a busy timeout, and ``BEGIN IMMEDIATE`` for every transaction so
concurrent writers queue on the lock instead of failing halfway with "database is locked".
PostgreSQL: a pool large enough for gunicorn's threads, with pre-ping for restarts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import make_url

from connector.store.tables import metadata

__all__ = ["create_store_engine", "is_sqlite"]

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the documented
        # pysqlite recipe), then make each one take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_store_engine(url: str, *, create_tables: bool = True) -> Engine:
    """An engine for ``url`` with the connector's tables in place."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=16,
            max_overflow=48,
        )
        _tune_sqlite(engine)
    else:
        engine = create_engine(parsed, pool_size=16, max_overflow=48, pool_pre_ping=True)
    if create_tables:
        metadata.create_all(engine)
    return engine
