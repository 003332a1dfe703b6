"""``driver_transaction``: committed or not at all, driver errors as SQLAlchemy's, on both stores."""

from __future__ import annotations

import fcntl
import os
from contextlib import nullcontext

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from connector.store.driver_transaction import driver_transaction
from connector.store.tables import events

_INSERT = (
    "INSERT INTO connector_events (id, dedupe_key, event, call_id, agent_id, body, received_at)"
    " VALUES (?, ?, 'call_ended', 'call', NULL, '{}', 1.0)"
)


def _stored(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(events.c.id)).scalars())


def test_a_transaction_commits_its_writes(engine: Engine) -> None:
    """What ran inside is stored once the block ends, and RETURNING rows come back."""
    with driver_transaction(engine) as cursor:
        rows = cursor.execute(_INSERT + " RETURNING id", ["evt_1", "k1"])
    assert rows == [("evt_1",)]
    assert _stored(engine) == {"evt_1"}


def test_an_exception_rolls_everything_back(engine: Engine) -> None:
    """An error raised inside leaves nothing behind and reaches the caller unchanged."""
    with pytest.raises(ValueError, match="changed my mind"), driver_transaction(engine) as cursor:
        cursor.execute(_INSERT, ["evt_1", "k1"])
        raise ValueError("changed my mind")
    assert _stored(engine) == set()


def test_a_driver_error_leaves_as_sqlalchemys_with_its_statement(engine: Engine) -> None:
    """The API maps DBAPIError to 503 at one boundary: a driver error is raised as one."""
    with driver_transaction(engine) as cursor:
        cursor.execute(_INSERT, ["evt_1", "k1"])
    with pytest.raises(IntegrityError) as raised, driver_transaction(engine) as cursor:
        cursor.execute(_INSERT, ["evt_2", "k2"])
        cursor.execute(_INSERT, ["evt_1", "k3"])  # the same id again
    assert "INSERT INTO connector_events" in str(raised.value)
    assert _stored(engine) == {"evt_1"}  # evt_2 went with the failed transaction


def test_the_connection_is_usable_after_an_error(engine: Engine) -> None:
    """A failed transaction returns its connection to the pool in a clean state."""
    for _ in range(12):
        with pytest.raises(DBAPIError), driver_transaction(engine) as cursor:
            cursor.execute("SELECT * FROM no_such_table")
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # every one came back
    with driver_transaction(engine) as cursor:
        cursor.execute(_INSERT, ["evt_1", "k1"])
    assert _stored(engine) == {"evt_1"}


@pytest.mark.parametrize("fails", [False, True], ids=["committed", "failed"])
def test_the_sqlite_writer_lock_is_released(engine: Engine, fails: bool) -> None:
    """Other processes' writers queue on the writer flock: it is free again either way."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the writer lock is SQLite's")
    with pytest.raises(DBAPIError) if fails else nullcontext(), driver_transaction(engine) as cur:
        cur.execute("SELECT * FROM no_such_table" if fails else "SELECT 1")
    other = os.open(f"{engine.url.database}.lock", os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held
    finally:
        os.close(other)


def test_a_killed_postgresql_connection_is_invalidated(engine: Engine) -> None:
    """A connection the server dropped is discarded, and the next transaction gets a new one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server-side kill is PostgreSQL's")
    with pytest.raises(DBAPIError) as raised, driver_transaction(engine) as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert raised.value.connection_invalidated
    with driver_transaction(engine) as cursor:
        assert cursor.execute("SELECT count(*) FROM connector_events") == [(0,)]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 0
