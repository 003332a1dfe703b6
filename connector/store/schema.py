"""The schema brought to the newest revision exactly once, however many processes start at once.

``serve``'s gunicorn workers and every ``worker`` process call :func:`migrate` as they start.
Each one runs the check and the upgrade in one transaction that first takes a lock, so they
take turns: the first creates or upgrades the tables, the rest find the database at the
newest revision and do nothing. (Before, each ran ``create_all`` at once and the losers failed
with ``UniqueViolation … pg_type_typname_nsp_index``.) The lock is

- PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key, released when the transaction ends;
  the DDL is transactional, so a process that dies halfway leaves nothing behind;
- SQLite: the write lock every transaction of the store's engine takes up front (the flock
  sidecar, then ``BEGIN IMMEDIATE``; see ``connector.store.engine``).

The revisions are Alembic's (``connector/store/migrations``, shipped in the package and run
from there: no ``alembic.ini``). A database made before migrations existed (tables from
``create_all``, no ``alembic_version``) is adopted: the baseline revision creates only what is
missing, so its rows stay.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

__all__ = [
    "SCRIPT_LOCATION",
    "Migration",
    "alembic_config",
    "current_revision",
    "head_revision",
    "migrate",
]

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "connector.store:migrations"

# Any fixed bigint serves; this one is the first 8 bytes of sha256("retell-connector schema"),
# unlikely to meet another application's key in a shared database.
_ADVISORY_LOCK_KEY = 2928436164370168983


class Migration(NamedTuple):
    """What :func:`migrate` found and left: revisions, ``None`` for a never-migrated database."""

    before: str | None
    after: str

    @property
    def upgraded(self) -> bool:
        """Whether this call changed the schema (exactly one of several racing processes)."""
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged revisions, lending ``connection`` to env.py."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this code knows (one head: tests refuse a forked history)."""
    head = _scripts().get_current_head()
    assert head is not None, "connector/store/migrations/versions holds no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; ``None`` when it has never been migrated."""
    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> Migration:
    """Create or upgrade the connector's tables to the newest revision.

    Safe to call from any number of processes at once: exactly one does the work.
    """
    head = head_revision()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        current = current_revision(conn)
        if current == head:
            log.info("the connector's schema is at revision %s", head)
            return Migration(current, head)
        if current is None and _has_connector_tables(conn):
            log.info("adopting a connector database created before migrations")
        command.upgrade(alembic_config(conn), "head")
    log.info("migrated the connector's schema from %s to %s", current or "nothing", head)
    return Migration(current, head)


def _has_connector_tables(conn: Connection) -> bool:
    return any(name.startswith("connector_") for name in inspect(conn).get_table_names())
