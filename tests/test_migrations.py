"""Schema migrations: created once under a lock, adopted from before migrations, one history.

Each test gets an empty database of its own (a new SQLite file, or a new PostgreSQL database
beside the test database) so that creating and racing over the schema touches nothing else.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Float, Index, String, Table, create_engine, inspect, text
from sqlalchemy.engine import make_url

from connector.store.engine import create_store_engine
from connector.store.migrations.__main__ import new_revision
from connector.store.schema import (
    PRE_MIGRATION_TABLES,
    SchemaError,
    current_revision,
    head_revision,
    history,
    migrate,
)
from connector.store.tables import metadata
from tests.conftest import PG_ENV, TOKEN
from tests.processes import free_port, is_ready, stop_group

MIGRATIONS = Path(__file__).parents[1] / "connector" / "store" / "migrations"
PRE_MIGRATION_SCHEMA = Path(__file__).parent / "data" / "pre_migration_schema.sql"
MIGRATED = "migrated the connector's schema from nothing to"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base = os.environ.get(PG_ENV, "")
    if not base:
        pytest.skip(f"{PG_ENV} is not set; PostgreSQL migration tests skipped")
    base_url = make_url(base)
    name = f"{base_url.database}_schema_{secrets.token_hex(4)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def pre_migration_statements() -> list[str]:
    """The DDL of ``tests/data/pre_migration_schema.sql``, one statement each, comments dropped."""
    lines = PRE_MIGRATION_SCHEMA.read_text().splitlines()
    script = "\n".join(line for line in lines if not line.startswith("--"))
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def schema_differences(url: str) -> list[object]:
    """What Alembic's autogenerate would change to make the database match ``tables.py``."""
    engine = create_store_engine(url, create_tables=False)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_threads_migrating_at_once_each_get_their_schema(tmp_path: Path) -> None:
    """Threads of one process migrating databases at once (the benchmark's lanes, tests) each
    get the newest schema: alembic's module-level proxies are not shared between them."""
    urls = [f"sqlite:///{tmp_path / f'store{n}.db'}" for n in range(6)]
    barrier = threading.Barrier(len(urls))
    failures: list[BaseException] = []

    def migrate_one(url: str) -> None:
        barrier.wait()
        try:
            migrate(create_engine(url))
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=migrate_one, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    for url in urls:
        with create_engine(url).connect() as conn:
            assert current_revision(conn) == head_revision()


def test_history_has_one_head() -> None:
    """Two revisions naming the same parent (two people adding tables at once) are caught here."""
    assert len(history().get_heads()) == 1


def test_migrations_build_exactly_the_declared_tables(empty_database: str) -> None:
    """A table or column added to tables.py without a revision (or the reverse) fails here."""
    create_store_engine(empty_database).dispose()
    assert schema_differences(empty_database) == []


def test_second_start_changes_nothing(empty_database: str) -> None:
    """The first start migrates from nothing; the next finds the newest revision and stops."""
    engine = create_store_engine(empty_database, create_tables=False)
    try:
        first, second = migrate(engine), migrate(engine)
        with engine.connect() as conn:
            stored = current_revision(conn)
    finally:
        engine.dispose()
    assert (first.before, first.upgraded) == (None, True)
    assert (second.before, second.upgraded) == (head_revision(), False)
    assert stored == head_revision()


def test_create_tables_false_leaves_the_database_alone(empty_database: str) -> None:
    """Readers that pass create_tables=False never create or upgrade anything."""
    engine = create_store_engine(empty_database, create_tables=False)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


_ROWS = {
    "connector_subscriptions": (
        "INSERT INTO connector_subscriptions (id, owner, target_url, events, secret, status,"
        " created_at) VALUES ('sub_1', 'owner', 'https://hooks.example/', '[\"call_ended\"]',"
        " 'whsec_x', 'active', 1.5)"
    ),
    "connector_events": (
        "INSERT INTO connector_events (id, dedupe_key, event, call_id, body, received_at)"
        " VALUES ('evt_1', 'call_1:call_ended', 'call_ended', 'call_1', '{}', 2.5)"
    ),
    "connector_deliveries": (
        "INSERT INTO connector_deliveries (id, event_id, subscription_id, owner, state, attempts,"
        " cycle_start, created_at) VALUES ('dlv_1', 'evt_1', 'sub_1', 'owner', 'pending', 0, 0,"
        " 3.5)"
    ),
    "connector_delivery_attempts": (
        "INSERT INTO connector_delivery_attempts (delivery_id, attempt, at, duration_ms)"
        " VALUES ('dlv_1', 1, 4.5, 12.0)"
    ),
    "connector_idempotency_keys": (
        'INSERT INTO connector_idempotency_keys (scope, "key", fingerprint, state, upstream_key,'
        " created_at, lease_until, expires_at) VALUES ('scope', 'k1', 'f', 'done', 'u', 5.5,"
        " 6.5, 7.5)"
    ),
}


def test_database_from_before_migrations_keeps_its_rows(empty_database: str) -> None:
    """Tables made by the old create_all, with rows and no alembic_version, are adopted intact."""
    old = create_store_engine(empty_database, create_tables=False)
    with old.begin() as conn:
        for statement in pre_migration_statements():
            conn.exec_driver_sql(statement)
        for insert in _ROWS.values():
            conn.exec_driver_sql(insert)
    old.dispose()

    engine = create_store_engine(empty_database)  # the new code's start-up
    try:
        with engine.connect() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in _ROWS
            }
            target = conn.execute(text("SELECT target_url FROM connector_subscriptions"))
            assert target.scalar_one() == "https://hooks.example/"
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()
    assert counts == dict.fromkeys(_ROWS, 1)
    assert schema_differences(empty_database) == []


def test_schema_newer_than_the_code_is_refused_untouched(empty_database: str) -> None:
    """A database a newer connector migrated stops the start with a message, rows intact."""
    engine = create_store_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            conn.execute(text(_ROWS["connector_events"]))
        with pytest.raises(SchemaError, match=r"revision 9999, which this version .* not know"):
            migrate(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == "9999"
            assert conn.execute(text("SELECT count(*) FROM connector_events")).scalar_one() == 1
    finally:
        engine.dispose()


def test_new_revision_creates_a_table_added_to_tables_py(tmp_path: Path) -> None:
    """The documented way to add a table: declare it, run ``new``, and the revision creates it."""
    location = str(tmp_path / "migrations")
    shutil.copytree(MIGRATIONS, location, ignore=shutil.ignore_patterns("__pycache__"))
    added = Table(
        "connector_test_added",
        metadata,
        Column("id", String(40), primary_key=True),
        Column("at", Float, nullable=False),
        Index("connector_test_added_at", "at"),
    )
    try:
        written = new_revision("add test table", location=location)
        source = written.read_text()
        url = f"sqlite:///{tmp_path / 'after.db'}"
        engine = create_store_engine(url, create_tables=False)
        migration = migrate(engine, location=location)
        engine.dispose()
        differences = schema_differences(url)
    finally:
        metadata.remove(added)
    assert written.name == f"{migration.after}_add_test_table.py"
    assert "op.create_table('connector_test_added'" in source
    assert "connector_test_added_at" in source
    assert (migration.before, migration.after) == (None, f"{int(head_revision()) + 1:04d}")
    assert differences == []


def test_unknown_tables_without_a_version_are_refused_untouched(empty_database: str) -> None:
    """Pre-migration tables plus one no release made: start-up stops and names that table."""
    old = create_store_engine(empty_database, create_tables=False)
    try:
        with old.begin() as conn:
            for statement in pre_migration_statements():
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql("CREATE TABLE connector_mystery (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql(_ROWS["connector_events"])
        with pytest.raises(SchemaError, match="connector_mystery"):
            migrate(old)
        with old.connect() as conn:
            assert current_revision(conn) is None
            assert conn.execute(text("SELECT count(*) FROM connector_events")).scalar_one() == 1
    finally:
        old.dispose()


def test_pre_migration_schema_file_is_the_baseline() -> None:
    """The history file holds the five tables the baseline revision adopts, no more, no less."""
    script = ";".join(pre_migration_statements())
    created = re.findall(r"CREATE TABLE (\w+)", script)
    assert sorted(created) == sorted(_ROWS) == sorted(PRE_MIGRATION_TABLES)


# --- processes starting together ---------------------------------------------------------

_START_UP = """
import logging, sys, time
from connector.store.engine import create_store_engine
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # every interpreter is up by then
create_store_engine(sys.argv[1]).dispose()
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_processes_starting_together_create_the_schema_once(empty_database: str) -> None:
    """Six processes run the start-up path on one empty database at the same instant: all succeed.

    Before the lock, each ran create_all and the losers failed on PostgreSQL with
    ``UniqueViolation … pg_type_typname_nsp_index``.
    """
    start = time.time() + 3.0
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _START_UP, empty_database, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    logs = [child.communicate(timeout=90)[1] for child in children]
    failures = [log[-500:] for child, log in zip(children, logs, strict=True) if child.returncode]
    assert failures == []
    assert sum(MIGRATED in log for log in logs) == 1
    assert schema_differences(empty_database) == []


def _schema_lines(logs: Iterable[Path]) -> list[str]:
    """The lines ``connector.store.schema`` logged at start-up, from every process's log."""
    return [
        line
        for path in logs
        for line in path.read_text(errors="replace").splitlines()
        if "connector.store.schema: " in line
    ]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_serve_and_workers_start_together_on_an_empty_database(
    empty_database: str, tmp_path: Path
) -> None:
    """``serve --workers 2`` and two ``worker`` processes started together all come up.

    Four processes reach the store at once (two gunicorn workers, two delivery workers): one
    migrates, the others find the schema current, and ``serve`` keeps running (before, two
    starts in six ended in "Worker failed to boot").
    """
    port = free_port()
    env = {
        **os.environ,
        "RETELL_API_KEY": "migrations-test-key",
        "CONNECTOR_API_TOKENS": TOKEN,
        "CONNECTOR_DATABASE_URL": empty_database,
        "CONNECTOR_LOG_LEVEL": "INFO",
    }
    cli = [sys.executable, "-m", "connector.cli"]
    commands = {
        "serve": [*cli, "serve", "--port", str(port), "--workers", "2", "--threads", "4"],
        "worker-1": [*cli, "worker"],
        "worker-2": [*cli, "worker"],
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    processes = {}
    for name, command in commands.items():
        with logs[name].open("wb") as log:  # the child keeps its own descriptor
            processes[name] = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
    try:
        # Each of the four store users logs one line about the schema once it is through.
        deadline = time.monotonic() + 90
        schema_lines: list[str] = []
        ready = False
        while time.monotonic() < deadline and not (ready and len(schema_lines) >= 4):
            if any(process.poll() is not None for process in processes.values()):
                break
            time.sleep(0.2)
            schema_lines = _schema_lines(logs.values())
            ready = ready or is_ready(f"http://127.0.0.1:{port}")
        exited = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
    finally:
        for process in processes.values():
            stop_group(process)
    tails = {name: path.read_text(errors="replace")[-2000:] for name, path in logs.items()}
    assert exited == {}, tails
    assert ready, tails["serve"]
    assert len(schema_lines) == 4, schema_lines
    assert sum(MIGRATED in line for line in schema_lines) == 1
    assert schema_differences(empty_database) == []
