"""A write transaction run straight on the driver, for the one write every webhook makes.

``engine.begin()`` costs about 55 µs of CPU on top of the driver's own ~35 µs for a
transaction with one small insert on SQLite (pool checkout, events, SQLAlchemy's
execution context for ``BEGIN IMMEDIATE``, commit), and a compiled Core statement costs as
much again; an ingested event pays both, which is a fifth of its CPU. Here the connection
still comes from the engine's pool (the liveness ping, the SQLite tuning and the writer
``flock`` of ``connector.store.engine`` all apply) and errors still leave as SQLAlchemy's
``DBAPIError`` (so the API's one boundary answers 503 for them) with a broken connection
invalidated, but statements go to the driver's cursor as plain SQL.

This is the one place the store leaves SQLAlchemy Core's statements (DESIGN §5 says "Store:
SQLAlchemy Core"): the tables, the engine and its pool stay Core's, and the SQL run here
is written from the Core ``Table`` objects' names (``connector.store.inbox``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from connector.store.engine import lock_writer, unlock_writer

__all__ = ["DriverCursor", "driver_transaction"]


class DriverCursor:
    """A DB-API cursor that takes SQL written with ``?`` placeholders on either backend."""

    def __init__(self, cursor: Any, *, postgres: bool) -> None:
        self._cursor = cursor
        self.postgres = postgres
        self.statement: str | None = None  # the one running, for the error's message

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (none for a write without RETURNING)."""
        self.statement = statement
        self._cursor.execute(self.sql(statement), params)
        return self._cursor.fetchall() if self._cursor.description else []

    def execute_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self.statement = statement
        self._cursor.executemany(self.sql(statement), rows)


@contextmanager
def driver_transaction(engine: Engine) -> Iterator[DriverCursor]:
    """One committed write transaction on a pooled connection, or none at all."""
    dialect = engine.dialect
    pooled = engine.raw_connection()
    cursor: DriverCursor | None = None
    try:
        raw = pooled.cursor()
        locked = False
        try:
            locked = lock_writer(pooled.info)
            cursor = DriverCursor(raw, postgres=dialect.name == "postgresql")
            if not cursor.postgres:
                raw.execute("BEGIN IMMEDIATE")  # psycopg begins by itself
            try:
                yield cursor
                pooled.commit()
            except BaseException:
                with suppress(dialect.loaded_dbapi.Error):  # a broken connection: the cause wins
                    pooled.rollback()
                raise
        finally:
            raw.close()
            if locked:
                unlock_writer(pooled.info)
    except dialect.loaded_dbapi.Error as exc:
        broken = dialect.is_disconnect(exc, pooled.dbapi_connection, None)
        if broken:
            pooled.invalidate(exc)
        raise DBAPIError.instance(
            cursor.statement if cursor else "BEGIN",
            None,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=broken,
            dialect=dialect,
        ) from exc
    finally:
        pooled.close()  # back to the pool (or discarded, if invalidated)
