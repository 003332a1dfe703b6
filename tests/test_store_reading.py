"""``reading``: a read-only connection that, on SQLite, does not queue behind writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from connector.campaigns.dialing import DialQueue
from connector.store.engine import create_store_engine, reading
from connector.store.tables import events

_EVENT = {
    "dedupe_key": "k",
    "event": "call_ended",
    "call_id": "call",
    "agent_id": None,
    "body": "{}",
    "received_at": 1.0,
}


def _finishes_while_a_writer_waits(read: Callable[[], object], engine: Engine) -> object:
    """Runs ``read`` in a thread while a write transaction is open; returns its result."""
    results: list[object] = []
    with engine.begin() as writer:
        writer.execute(events.insert().values(id="evt_open", **{**_EVENT, "dedupe_key": "open"}))
        reader = threading.Thread(target=lambda: results.append(read()), daemon=True)
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "the read waited for the writer to commit"
    return results[0]


def _sqlite(tmp_path: Path) -> Engine:
    """A SQLite store with two pooled connections made: a new connection takes the writer
    lock once, to switch a new database to WAL, so the reader must find one made."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    held = [engine.connect(), engine.connect()]
    for conn in held:
        conn.close()
    return engine


def test_a_read_does_not_wait_for_an_open_write(tmp_path: Path) -> None:
    """While a write transaction holds SQLite's writer lock, a read sees the last commit."""
    engine = _sqlite(tmp_path)
    with engine.begin() as conn:
        conn.execute(events.insert().values(id="evt_committed", **_EVENT))

    def count() -> int:
        with reading(engine) as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    assert _finishes_while_a_writer_waits(count, engine) == 1  # not the open one
    engine.dispose()


def test_the_dialers_poll_does_not_wait_for_an_open_write(tmp_path: Path) -> None:
    """The dialer's twice-a-second look for due calls is not held up by a burst of writes."""
    engine = _sqlite(tmp_path)
    queue = DialQueue(engine)
    assert _finishes_while_a_writer_waits(queue.waiting, engine) == (False, False)
    engine.dispose()


def test_writes_still_queue_on_the_writer_lock(tmp_path: Path) -> None:
    """``reading`` changes reads only: a second writer still waits for the first."""
    engine = _sqlite(tmp_path)
    order: list[str] = []
    with engine.begin() as first:
        first.execute(events.insert().values(id="evt_1", **_EVENT))

        def second() -> None:
            with engine.begin() as conn:
                conn.execute(events.insert().values(id="evt_2", **{**_EVENT, "dedupe_key": "2"}))
            order.append("second")

        writer = threading.Thread(target=second, daemon=True)
        writer.start()
        writer.join(0.3)
        order.append("first")
    writer.join(10)
    assert order == ["first", "second"]
    engine.dispose()
