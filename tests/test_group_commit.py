"""``GroupCommit``: many threads' writes share transactions; each gets its own result or error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Table, event, func, select

from connector.store import group_commit
from connector.store.group_commit import GroupCommit, apply_each

_metadata = MetaData()
_rows = Table("test_group_commit_rows", _metadata, Column("n", Integer, primary_key=True))


@pytest.fixture
def table(engine: Engine) -> Engine:
    _metadata.drop_all(engine)
    _metadata.create_all(engine)
    return engine


def _insert(n: int) -> Callable[[Connection], int]:
    def write(conn: Connection) -> int:
        conn.execute(_rows.insert().values(n=n))
        return n * 10

    return write


def _submit_all(writes: GroupCommit[Any, Any, Any], items: list[Any]) -> list[Any]:
    """Submit every item from its own thread at once; each thread's result or exception."""
    results: list[Any] = [None] * len(items)
    barrier = threading.Barrier(len(items))

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = writes.submit(items[index])
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _stored(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(_rows.c.n)).scalars())


def test_each_writer_gets_its_own_result(table: Engine) -> None:
    """64 concurrent writes: all committed, each thread handed the result of its own write."""
    writes = GroupCommit(table.begin, apply_each, name="test-committer")
    results = _submit_all(writes, [_insert(n) for n in range(64)])
    assert results == [n * 10 for n in range(64)]
    assert _stored(table) == set(range(64))


def test_concurrent_writes_share_commits(table: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under contention there are fewer commits than writes (the point of group commit)."""
    commits = []
    event.listen(table, "commit", lambda conn: commits.append(1))
    handed_over: list[int] = []

    class CountedOutcome(group_commit._Outcome[Any]):
        def __init__(self) -> None:
            super().__init__()
            handed_over.append(1)  # made just before the write is queued for the committer

    monkeypatch.setattr(group_commit, "_Outcome", CountedOutcome)
    opened, gate = threading.Event(), threading.Event()
    writes = GroupCommit(table.begin, apply_each, name="test-committer")

    def slow_first(conn: Connection) -> int:
        opened.set()
        gate.wait(5)  # hold the first transaction open while the others queue up
        return _insert(999)(conn)

    first = threading.Thread(target=writes.submit, args=(slow_first,))
    first.start()
    assert opened.wait(5)  # a lone write: committed in its own thread, holding the lock
    others = threading.Thread(target=_submit_all, args=(writes, [_insert(n) for n in range(32)]))
    others.start()
    while len(handed_over) < 32 and others.is_alive():
        time.sleep(0.01)
    time.sleep(0.05)  # the last of them is queued a moment after its outcome is made
    gate.set()
    first.join(10)
    others.join(30)
    assert _stored(table) == {999, *range(32)}
    assert len(commits) == 2


def test_a_lone_write_is_committed_in_its_own_thread(table: Engine) -> None:
    """With nothing else being written, no committer thread is started (no hand-over)."""
    writes = GroupCommit(table.begin, apply_each, name="test-committer")
    threads: list[str] = []

    def record_thread(conn: Connection) -> int:
        threads.append(threading.current_thread().name)
        return _insert(1)(conn)

    assert writes.submit(record_thread) == 10
    assert threads == [threading.current_thread().name]
    assert _stored(table) == {1}


def test_a_failing_write_fails_alone(table: Engine) -> None:
    """A write that raises gets its own error; the writes sharing its batch still commit."""

    def broken(conn: Connection) -> int:
        conn.execute(_rows.insert().values(n=5))  # a duplicate of another write's key
        conn.execute(_rows.insert().values(n=5))
        return -1

    writes = GroupCommit(table.begin, apply_each, name="test-committer")
    results = _submit_all(writes, [_insert(n) for n in range(8)] + [broken])
    assert results[:8] == [n * 10 for n in range(8)]
    assert isinstance(results[8], Exception)
    assert _stored(table) == set(range(8))


def test_results_match_items_for_a_batch_apply(table: Engine) -> None:
    """A whole-batch ``apply`` (one statement for all items) hands back per-item results."""

    def insert_all(conn: Connection, items: list[int]) -> list[int]:
        conn.execute(_rows.insert(), [{"n": n} for n in items])
        total = conn.execute(select(func.count()).select_from(_rows)).scalar_one()
        return [total] * len(items)

    writes: GroupCommit[Connection, int, int] = GroupCommit(
        table.begin, insert_all, name="test-committer"
    )
    assert writes.submit(7) == 1
    assert _submit_all(writes, [1, 2, 3])[0] >= 2
    assert _stored(table) == {1, 2, 3, 7}
