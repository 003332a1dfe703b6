"""PostgreSQL connections are pinged before use only when they may have gone stale."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from connector.store.driver_transaction import driver_transaction
from connector.store.engine import create_store_engine
from connector.store.liveness import ping_when_stale
from tests.conftest import PG_ENV, Clock


@pytest.fixture
def url() -> str:
    found = os.environ.get(PG_ENV)
    if not found:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL store tests skipped")
    return found


@pytest.fixture
def admin(url: str) -> Iterator[Engine]:
    """A separate engine that kills the other engine's server connections."""
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pinged: list[Any] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pinged.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pinged


def _backends(engine: Engine, count: int) -> list[int]:
    """The server pids of ``count`` pooled connections, all checked out at once and returned."""
    held = [engine.connect() for _ in range(count)]
    pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in held]
    for conn in held:
        conn.close()
    return pids


def _kill(admin: Engine, pids: list[int]) -> None:
    with admin.begin() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def _clocked(url: str, clock: Clock) -> Engine:
    engine = create_engine(url, pool_size=2, max_overflow=0)
    ping_when_stale(engine, idle_seconds=5.0, clock=clock)
    return engine


def test_a_connection_used_a_moment_ago_is_not_pinged(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Back-to-back transactions go straight to work: no round trip to ask the server first."""
    clock = Clock(1000.0)
    engine = _clocked(url, clock)
    pinged = _pings(engine, monkeypatch)
    for _ in range(5):
        with driver_transaction(engine) as cursor:
            cursor.execute("SELECT 1")
        clock.advance(4.9)
    assert pinged == []
    engine.dispose()


def test_an_idle_connection_is_pinged_and_replaced_if_the_server_dropped_it(
    url: str, admin: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the idle time a connection is checked; one the server closed meanwhile (a restart)
    is replaced before the transaction, which succeeds."""
    clock = Clock(1000.0)
    engine = _clocked(url, clock)
    (first,) = _backends(engine, 1)
    pinged = _pings(engine, monkeypatch)
    _kill(admin, [first])
    clock.advance(5.0)
    with driver_transaction(engine) as cursor:
        ((now,),) = cursor.execute("SELECT pg_backend_pid()")
    assert now != first
    assert len(pinged) == 1
    engine.dispose()


def test_once_one_connection_is_found_broken_the_others_are_checked_first(
    url: str, admin: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restart breaks every connection: the first found broken in use fails its
    transaction (a 503 "retry"), and the next is pinged and replaced though used a moment ago."""
    engine = create_store_engine(url, create_tables=False)
    pids = _backends(engine, 2)
    pinged = _pings(engine, monkeypatch)
    _kill(admin, pids)
    with pytest.raises(DBAPIError) as raised, driver_transaction(engine) as cursor:
        cursor.execute("SELECT 1")
    assert raised.value.connection_invalidated
    with driver_transaction(engine) as cursor:
        ((now,),) = cursor.execute("SELECT pg_backend_pid()")
    assert now not in pids
    assert len(pinged) == 1
    engine.dispose()


def test_a_new_connection_is_not_pinged(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection made for this checkout is known to be alive."""
    clock = Clock(1000.0)
    engine = _clocked(url, clock)
    pinged = _pings(engine, monkeypatch)
    with driver_transaction(engine) as cursor:
        cursor.execute("SELECT 1")
    assert pinged == []
    engine.dispose()
