"""Plain DB-API access to the connector's tables, for the stripped ceiling programs.

The ceilings do the connector's durable work with nothing between them and the driver: no
SQLAlchemy, no pool. On SQLite they take the same writer ``flock`` of the sidecar file as
the connector's engine (``connector.store.engine``) and run in WAL mode on the same file; on
PostgreSQL they use psycopg 3, the connector's driver, on the same database.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

__all__ = ["GroupCommit", "RawStore"]


class RawStore:
    """One connection (used by one thread at a time) to the database at a connector URL."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            path = url.split("///", 1)[1]
            self._db: Any = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._writer = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        else:
            dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
            self._db = psycopg.connect(dsn, autocommit=True)

    def sql(self, statement: str) -> str:
        """``statement`` written with ``?`` placeholders, in this driver's style."""
        return statement if self.sqlite else statement.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction (behind the writer lock on SQLite); yields a cursor."""
        if not self.sqlite:
            with self._db.transaction(), self._db.cursor() as cursor:
                yield cursor
            return
        fcntl.flock(self._writer, fcntl.LOCK_EX)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db.cursor()
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        finally:
            fcntl.flock(self._writer, fcntl.LOCK_UN)

    def close(self) -> None:
        self._db.close()
        if self.sqlite:
            os.close(self._writer)


class GroupCommit:
    """Leader/follower group commit: whoever holds the lock commits every waiting row."""

    def __init__(self, store: RawStore, statement: str) -> None:
        self._store = store
        self._statement = store.sql(statement)
        self._waiting: list[list[Any]] = []  # [row, outcome]: None, True or the error
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def commit(self, row: Sequence[Any]) -> None:
        """Returns once ``row`` is committed; raises if its batch failed."""
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
        outcome: Any = True
        try:
            with self._store.transaction() as cursor:
                cursor.executemany(self._statement, [entry[0] for entry in batch])
        except (sqlite3.Error, psycopg.Error) as exc:
            outcome = exc
        for entry in batch:
            entry[1] = outcome
