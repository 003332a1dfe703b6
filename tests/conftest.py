"""Shared fixtures: settings, stores on SQLite and PostgreSQL, a scripted Retell transport."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, inspect, make_url

from connector.app import create_app
from connector.retell.retry import RetryPolicy
from connector.services import Services
from connector.settings import Settings
from connector.store.engine import create_store_engine
from connector.store.schema import migrate
from connector.store.tables import metadata

TOKEN = "test-token-0123456789abcdef"
RETELL_KEY = "test-retell-key"
PG_ENV = "CONNECTOR_TEST_DATABASE_URL"
_WORKER_DATABASE = pytest.StashKey[str]()


@dataclass
class Clock:
    """A clock tests move by hand (unix seconds), for stores and services that take ``clock``."""

    now: float

    def __call__(self) -> float:
        return self.now

    def at(self, iso: str) -> Clock:
        self.now = dt.datetime.fromisoformat(iso).timestamp()
        return self

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets a PostgreSQL database of its own.

    Every store test empties the tables of the database it runs on, so two workers sharing one
    would delete each other's rows. The worker's database is the configured one's name plus the
    worker's id (``test`` -> ``test_gw0``), created if missing; it replaces the setting in this
    process's environment, so fixtures and the child processes tests start (bench, dialers,
    gunicorn) all use it. The worker drops it when its session ends (``pytest_sessionfinish``).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get(PG_ENV, "")
    if worker and url:
        own = _own_database(url, worker)
        os.environ[PG_ENV] = own
        config.stash[_WORKER_DATABASE] = own


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker drops the database it was given, so runs leave none behind.

    Last among the session-finish hooks: pytest's own tears the session fixtures down (and
    with them their engines) first. Only the per-worker database is dropped, never the
    configured one (a run without xdist stashes nothing).
    """
    own = session.config.stash.get(_WORKER_DATABASE, None)
    if own is not None:
        _drop_database(own)


def _own_database(url: str, worker: str) -> str:
    """The URL of ``url``'s database suffixed with ``worker``, created through ``postgres``."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}
            ).scalar()
            if not found:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    """Drop ``url``'s database through ``postgres``; a failure is reported, never raised.

    ``WITH (FORCE)`` (PostgreSQL 13+) ends the connections still open on it: pools a test did
    not dispose of, a child process a failed test left running. Cleanup must not fail a run
    whose tests passed, so any error is written to stderr and the database stays.
    """
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    except Exception as exc:  # reported, not raised: the run's outcome stands
        print(f"could not drop test database {target.database!r}: {exc}", file=sys.stderr)
    finally:
        admin.dispose()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist the ``alone`` tests go first, then the slow ones, each module's on
    one worker.

    An ``alone`` test stops the other workers while it runs (see ``pytest_runtest_protocol``);
    first, it runs in a fresh worker (no threads left behind by hundreds of earlier tests'
    apps competing for the interpreter) and the others wait at most for one test each.
    The slow tests (real servers and processes on loopback) take most of the suite's time:
    started early they overlap with the many quick ones instead of leaving one worker busy
    at the end. A module's slow tests often share a module-scoped server or run (the bench's
    quick run), which one worker then makes once; and the kill -9 tests of one module do not
    fight each other for the two cores. Without xdist the order stays the collected one.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("alone"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    for item in items:
        if rank(item) == 1:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    items.sort(key=rank)  # stable: the collected order within each rank


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[object]:
    """Under pytest-xdist a test marked ``alone`` runs while no other test does.

    Every test holds a shared lock on a file all the run's workers see (in the run's base
    temporary folder) from its setup, module and session fixtures included, to its teardown;
    an ``alone`` test holds it exclusively. A gate lock in front keeps other tests from
    starting while an ``alone`` test waits for the running ones to end.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return (yield)
    run_folder = Path(item.config.option.basetemp).parent  # xdist gives each worker one inside
    alone = item.get_closest_marker("alone") is not None
    with (
        (run_folder / "alone.gate").open("a") as gate,
        (run_folder / "alone.lock").open("a") as lock,
    ):
        fcntl.flock(gate, fcntl.LOCK_EX)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        return (yield)  # closing the files releases the locks


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's own settings."""
    for name in list(os.environ):
        if name.startswith(("RETELL_", "CONNECTOR_")) and name != PG_ENV:
            monkeypatch.delenv(name)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "retell_api_key": RETELL_KEY,
        "retell_base_url": "https://retell.test",
        "connector_api_tokens": TOKEN,
        "connector_database_url": f"sqlite:///{tmp_path / 'connector.db'}",
        "connector_log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each store test starts from a copy of it."""
    path = tmp_path_factory.mktemp("migrated") / "store.db"
    create_store_engine(f"sqlite:///{path}").dispose()  # the last close checkpoints the WAL
    return path


@pytest.fixture(scope="session")
def _migrated_postgres() -> str | None:
    """The test database emptied and migrated once per session; each store test empties rows."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        return None
    created = create_store_engine(url, create_tables=False)
    with created.begin() as conn:
        for name in inspect(conn).get_table_names():
            if name.startswith("connector_") or name == "alembic_version":
                conn.exec_driver_sql(f'DROP TABLE "{name}" CASCADE')
    migrate(created)
    created.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _migrated_sqlite: Path,
    _migrated_postgres: str | None,
) -> Iterator[Engine]:
    """The store's engine on SQLite and, when configured, on PostgreSQL (tables empty).

    The migrations run once per session; a test starts from a copy of the migrated SQLite file,
    or from the PostgreSQL tables with their rows deleted (DELETE on a few rows takes about
    a millisecond; TRUNCATE or dropping and creating the tables takes 40-100 ms).
    """
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(_migrated_sqlite, path)
        created = create_store_engine(f"sqlite:///{path}", create_tables=False)
    else:
        if _migrated_postgres is None:
            pytest.skip(f"{PG_ENV} is not set; PostgreSQL store tests skipped")
        created = create_store_engine(_migrated_postgres, create_tables=False)
        with created.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    yield created
    created.dispose()


@dataclass
class FakeRetell:
    """A scripted Retell at the transport edge: records requests, answers from handlers."""

    routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = field(
        default_factory=dict
    )
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(
        self, method: str, path: str, handler: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        self.routes[(method, path)] = handler

    def reply(self, method: str, path: str, status: int, body: Any, **headers: str) -> None:
        self.on(method, path, lambda _r: httpx.Response(status, json=body, headers=headers))

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"status": "error", "message": "no such route"})
        return handler(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def sample_call(**fields: Any) -> dict[str, Any]:
    call = {
        "call_id": "call_abc123",
        "call_type": "phone_call",
        "agent_id": "agent_1",
        "agent_version": 1,
        "call_status": "registered",
        "direction": "outbound",
        "from_number": "+14157774444",
        "to_number": "+14155550123",
    }
    call.update(fields)
    return call


@pytest.fixture
def retell() -> FakeRetell:
    fake = FakeRetell()

    def created(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(201, json=sample_call(metadata=body.get("metadata", {})))

    fake.on("POST", "/v2/create-phone-call", created)
    return fake


def build_app(settings: Settings, retell: FakeRetell, engine: Engine | None = None) -> Flask:
    """The connector as tests run it: Retell faked at the edge, quick retries, the test's logs."""
    return create_app(
        settings,
        engine=engine,
        retell_transport=retell.transport,
        retry=RetryPolicy.testing(),
        configure_logs=False,
    )


@pytest.fixture
def app(tmp_path: Path, retell: FakeRetell) -> Flask:
    return build_app(make_settings(tmp_path), retell)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def svc(app: Flask) -> Services:
    """The services of whichever ``app`` the test's folder defines (one copy for all)."""
    found: Services = app.extensions["connector"]
    return found


AUTH = {"Authorization": f"Bearer {TOKEN}"}
