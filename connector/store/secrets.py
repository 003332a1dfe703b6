"""Secrets the connector generates for itself once and every process then shares.

The console signs its session cookies with one key; when ``CONNECTOR_CONSOLE_SECRET`` is not
set, the first process to start makes one and stores it here. Every gunicorn worker and
every replica on the same database reads the same value, so a cookie signed by one is
accepted by all. Insert-if-new then read: processes racing at start-up all end up with the
winner's value.
"""

from __future__ import annotations

import secrets as random
import time
from collections.abc import Callable

from sqlalchemy import Engine, select

from connector.store.engine import InsertIfNew
from connector.store.tables import secrets

__all__ = ["SecretStore"]

_INSERT = InsertIfNew(secrets, secrets.c.name)


class SecretStore:
    """Named secrets, created on first use."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    def get_or_create(self, name: str, *, nbytes: int = 32) -> str:
        """The secret called ``name``; made from ``nbytes`` random bytes the first time."""
        query = select(secrets.c.value).where(secrets.c.name == name)
        with self._engine.connect() as conn:
            found = conn.execute(query).scalar()
        if found is not None:
            return str(found)
        row = {"name": name, "value": random.token_urlsafe(nbytes), "created_at": self._clock()}
        with self._engine.begin() as conn:
            conn.execute(_INSERT.on(conn), row)
            return str(conn.execute(query).scalar_one())
