"""Ping a pooled PostgreSQL connection only when it may have gone stale.

SQLAlchemy's ``pool_pre_ping`` asks the server ``SELECT 1`` at every checkout, so that a
connection the server dropped (a restart, a failover, an idle timeout) is replaced before a
request uses it. That is a round trip before every transaction: an ingested event's
transaction has three others, and the ping cost it ~100-190 µs of CPU, client and server
(``bench/README.md``, P1). A connection used a moment ago is as alive as a ping would show,
so here the ping is sent only when the connection

- has sat in the pool longer than ``idle_seconds``, or
- was last used before some connection of the engine was found broken (a server restart
  breaks them all: after the first is found, the rest are checked before their next use).

A broken connection found by the ping is replaced at once, and the others made before it
at their next checkout, as with ``pool_pre_ping``. One
found broken in use fails its transaction (with SQLAlchemy's ``DBAPIError``: the API answers
503 "retry", and nothing was acknowledged), as it would with ``pool_pre_ping`` had it broken
after the ping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import InvalidatePoolError

__all__ = ["IDLE_SECONDS", "ping_when_stale"]

IDLE_SECONDS = 1.0
"""How long a connection may sit unused in the pool before its next checkout pings it."""

_RETURNED = "connector.returned_at"  # in the connection's ``info``: when it was last checked in


def ping_when_stale(
    engine: Engine,
    *,
    idle_seconds: float = IDLE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Install the checks on ``engine``'s pool (made with ``pool_pre_ping`` off)."""
    dialect = engine.dialect
    broken_at = [float("-inf")]  # when a connection of this engine was last found broken

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED] = clock()

    @event.listens_for(engine, "invalidate")
    def _broken(_dbapi_connection: Any, _record: Any, _exception: BaseException | None) -> None:
        broken_at[0] = clock()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None:  # connected just now
            return
        if clock() - returned < idle_seconds and returned > broken_at[0]:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                # As pool_pre_ping: the pool replaces this connection, and every other one
                # made before now at its next checkout.
                raise InvalidatePoolError(f"the database closed the connection: {exc}") from exc
            raise
