"""Engines tuned per backend, so the rest of the store can stay dialect-neutral.

SQLite: WAL journal and ``BEGIN IMMEDIATE`` for every transaction but ``reading``'s, so
writers queue on the lock instead of failing halfway with "database is locked". They queue
on an ``flock`` of a sidecar file first: SQLite's own busy handler polls with sleeps of up
to 100 ms, which under contention from several gunicorn workers turned a 5 ms commit into a
1 s one; a kernel lock wakes the next writer the moment the last one commits (the busy
timeout stays as a backstop).
PostgreSQL: a pool large enough for gunicorn's threads; a connection is pinged before use
when it may have gone stale (``connector.store.liveness``), for restarts.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from sqlalchemy import Column, Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine.url import make_url

from connector.store.liveness import ping_when_stale
from connector.store.schema import migrate

__all__ = [
    "READ_ONLY",
    "InsertIfNew",
    "create_store_engine",
    "lock_writer",
    "reading",
    "unlock_writer",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000


READ_ONLY = "connector_read_only"
"""The execution option of ``reading``'s connections."""


def reading(engine: Engine) -> Connection:
    """A connection for reads alone. On SQLite its transactions begin deferred, without the
    writer ``flock``: a WAL reader sees the last commit and holds up no writer, where
    ``BEGIN IMMEDIATE`` would queue it behind every write (a poll every half second behind
    a burst of webhooks). Writing on it is an error waiting to happen: use ``begin``."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def lock_writer(info: dict[str, Any]) -> bool:
    """Take the SQLite writer ``flock`` of the pooled connection with this ``info``, if it has
    one (PostgreSQL's and in-memory SQLite's have none); True if it was taken."""
    fd = info.get("writer_lock")
    if fd is None:
        return False
    fcntl.flock(fd, fcntl.LOCK_EX)
    return True


def unlock_writer(info: dict[str, Any]) -> None:
    if (fd := info.get("writer_lock")) is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _tune_sqlite(engine: Engine, lock_path: str | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the documented
        # pysqlite recipe), then make each one take the write lock up front.
        dbapi_connection.isolation_level = None
        fd = None if lock_path is None else os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fd is not None:
                # Switching a new database to WAL needs it to itself, and SQLite answers
                # "locked" at once rather than waiting: processes starting together (gunicorn
                # workers on a fresh database) take turns here.
                fcntl.flock(fd, fcntl.LOCK_EX)
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
        except BaseException:
            if fd is not None:
                os.close(fd)  # which also releases the lock
            raise
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            record.info["writer_lock"] = fd

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: Any, record: Any) -> None:
        if (fd := record.info.pop("writer_lock", None)) is not None:
            os.close(fd)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # deferred: a WAL reader waits for no writer
            return
        locked = lock_writer(connection.connection.info)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if locked:
                unlock_writer(connection.connection.info)
            raise

    def _unlock(connection: Any) -> None:
        unlock_writer(connection.connection.info)

    event.listen(engine, "commit", _unlock)
    event.listen(engine, "rollback", _unlock)


class InsertIfNew:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING <column>``, built once for each backend.

    RETURNING, not rowcount, tells which rows were new: drivers disagree on rowcount for
    ``ON CONFLICT DO NOTHING``.
    """

    def __init__(self, table: Table, returning: Column[Any]) -> None:
        self._by_backend = {
            postgres: (pg_insert if postgres else sqlite_insert)(table)
            .on_conflict_do_nothing()
            .returning(returning)
            for postgres in (False, True)
        }

    def on(self, conn: Connection) -> Insert:
        """The statement in ``conn``'s dialect."""
        return self._by_backend[conn.dialect.name == "postgresql"]


def create_store_engine(url: str, *, create_tables: bool = True) -> Engine:
    """An engine for ``url``; with ``create_tables`` the schema is migrated to the newest revision.

    ``create_tables=False`` leaves the schema alone (readers of a database that a running
    connector already set up, and tests that manage the tables themselves).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            # Writers take turns anyway and no connection is held across a network call, so a
            # small pool serves 64 threads; each connection keeps its own page cache.
            pool_size=8,
            max_overflow=8,
        )
        database = parsed.database
        in_memory = not database or database == ":memory:" or database.startswith("file::memory")
        _tune_sqlite(engine, None if in_memory else f"{database}.lock")
    else:
        engine = create_engine(parsed, pool_size=10, max_overflow=10)
        ping_when_stale(engine)
    if create_tables:
        migrate(engine)
    return engine
