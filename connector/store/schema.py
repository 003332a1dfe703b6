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
import threading
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

__all__ = [
    "PRE_MIGRATION_TABLES",
    "SCRIPT_LOCATION",
    "Migration",
    "SchemaError",
    "alembic_config",
    "current_revision",
    "head_revision",
    "history",
    "migrate",
]

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "connector.store:migrations"

# Any fixed bigint serves; this one is the first 8 bytes of sha256("retell-connector schema"),
# unlikely to meet another application's key in a shared database.
_ADVISORY_LOCK_KEY = 2928436164370168983
# Alembic's ``op`` and ``context`` are module-level proxies, set for the one migration that
# runs: two threads migrating at once (two databases, or one twice) swap each other's out
# ("KeyError: 'script'", statements sent to the other database). One at a time per process;
# processes take turns on the database's own lock as well.
_UPGRADING = threading.Lock()
_VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

# What create_all made before migrations (revision 0001 adopts exactly these).
PRE_MIGRATION_TABLES = frozenset(
    {
        "connector_deliveries",
        "connector_delivery_attempts",
        "connector_events",
        "connector_idempotency_keys",
        "connector_subscriptions",
    }
)


class Migration(NamedTuple):
    """What :func:`migrate` found and left: revisions, ``None`` for a never-migrated database."""

    before: str | None
    after: str

    @property
    def upgraded(self) -> bool:
        """Whether this call changed the schema (exactly one of several racing processes)."""
        return self.before != self.after


def alembic_config(
    connection: Connection | None = None, *, location: str = SCRIPT_LOCATION
) -> Config:
    """Alembic's configuration for the revisions at ``location``, lending ``connection`` to env.py.

    ``location`` is the packaged history except in tests of the history tooling itself.
    """
    config = Config()
    config.set_main_option("script_location", location)
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@functools.cache
def history(location: str = SCRIPT_LOCATION) -> ScriptDirectory:
    """The revisions at ``location``, read once per process (``cache_clear`` after writing one)."""
    return ScriptDirectory.from_config(alembic_config(location=location))


def head_revision(location: str = SCRIPT_LOCATION) -> str:
    """The newest revision this code knows (one head: tests refuse a forked history)."""
    head = history(location).get_current_head()
    assert head is not None, f"{location} holds no revision"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; ``None`` when it has never been migrated.

    Read directly rather than through Alembic's MigrationContext, which logs two lines at
    INFO on every start even when there is nothing to do.
    """
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    versions = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    if len(versions) > 1:
        raise SchemaError(f"The database is on several schema branches at once ({versions}).")
    return versions[0] if versions else None


class SchemaError(RuntimeError):
    """The database's schema is one this code cannot bring to its newest revision."""


def migrate(engine: Engine, *, location: str = SCRIPT_LOCATION) -> Migration:
    """Create or upgrade the connector's tables to the newest revision.

    Safe to call from any number of processes and threads at once: exactly one does the work.
    """
    head = head_revision(location)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        current = current_revision(conn)
        if current == head:
            log.info("the connector's schema is at revision %s", head)
            return Migration(current, head)
        known = {script.revision for script in history(location).walk_revisions()}
        if current is not None and current not in known:
            raise SchemaError(
                f"The database's schema is at revision {current}, which this version of the "
                f"connector does not know (its newest is {head}): a newer version migrated it. "
                "Run that version, or restore a backup taken before it."
            )
        if current is None and (found := _connector_tables(conn)):
            _check_adoptable(found)
            log.info("adopting a connector database created before migrations")
        with _UPGRADING:
            command.upgrade(alembic_config(conn, location=location), "head")
    log.info("migrated the connector's schema from %s to %s", current or "nothing", head)
    return Migration(current, head)


def _connector_tables(conn: Connection) -> set[str]:
    return {name for name in inspect(conn).get_table_names() if name.startswith("connector_")}


def _check_adoptable(found: set[str]) -> None:
    """Refuse, with a reason, tables no release made without also writing ``alembic_version``.

    Later revisions would otherwise fail halfway on "table already exists" (harmlessly, the
    transaction rolls back, but with a message that does not say why).
    """
    if unexpected := found - PRE_MIGRATION_TABLES:
        raise SchemaError(
            "The database has connector tables but no alembic_version, and some of them "
            f"({', '.join(sorted(unexpected))}) are newer than the connector's releases before "
            "migrations: they were made some other way (metadata.create_all?). Drop them, "
            "or create the schema with connector.store.schema.migrate on an empty database."
        )
