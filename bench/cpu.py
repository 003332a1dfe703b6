"""CPU time spent by the processes doing the work, read from ``/proc``.

Throughput on this shared 2-core machine moves ±30 % between identical runs; the CPU time a
server spends per operation moves far less, so every throughput metric reports it beside
its ratio. A process tree's CPU is the sum of user + system time of every live process in
it plus what its members' reaped children used (``cutime``/``cstime``), so a child that
exits mid-round is not lost. PostgreSQL's backends serving the benchmark's database do the
store's work for the server under test but belong to the postmaster's tree: they are
measured apart, per backend (one that exits mid-round is lost; pooled ones do not).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg

__all__ = ["CpuMeter", "CpuUse", "process_ticks", "tree_pids", "tree_ticks", "wait_until_idle"]

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state is index 0)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def process_ticks(pid: int, *, children: bool = True) -> int:
    """utime + stime of ``pid`` (and of its reaped children), in clock ticks; 0 if gone."""
    fields = _stat(pid)
    if fields is None:
        return 0
    own = int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)
    return own + (int(fields[13]) + int(fields[14]) if children else 0)  # cutime, cstime


def tree_pids(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def tree_ticks(roots: list[int]) -> int:
    """CPU ticks of every process in the trees of ``roots`` (reaped children included)."""
    return sum(process_ticks(pid) for root in roots for pid in tree_pids(root))


IDLE_WINDOW = 0.2  # seconds
IDLE_TICKS = 2  # at most this much CPU in a window (20 ms at 100 ticks/s: a tenth of a core)


def wait_until_idle(root: int, *, limit: float = 10.0) -> float:
    """Wait until the tree of ``root`` is done starting up; returns the seconds waited.

    A server answers its readiness check as soon as one of its workers is up, while the
    other may still be building the app: ~0.1-0.2 CPU-seconds for ``serve`` (two workers),
    which spread over a round of 4,000 events was 25-50 µs of CPU per event that steady load
    does not cost. Measured rounds start once a window of ``IDLE_WINDOW`` seconds passes with
    at most ``IDLE_TICKS`` ticks of CPU (a started ``serve`` polls its queues for ~1-3 % of a
    core; the ceilings use none), or after ``limit`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = tree_ticks([root])
        time.sleep(IDLE_WINDOW)
        if tree_ticks([root]) - before <= IDLE_TICKS:
            break
    return time.monotonic() - started


def _backends(database_url: str) -> list[int]:
    """The PostgreSQL backends connected to the database of ``database_url`` (but this one)."""
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(row[0]) for row in rows]


@dataclass(frozen=True)
class CpuUse:
    """CPU-seconds used during one measured span."""

    tree_seconds: float  # the server's (or workers') own process trees
    database_seconds: float  # PostgreSQL backends of the benchmark's database (0 on SQLite)

    @property
    def seconds(self) -> float:
        return self.tree_seconds + self.database_seconds

    def per_op_us(self, operations: int) -> float:
        return self.seconds / max(1, operations) * 1e6


class CpuMeter:
    """``with CpuMeter([pid, ...], database_url) as meter: <load>``; then ``meter.use``."""

    def __init__(self, roots: list[int], database_url: str | None = None) -> None:
        self._roots = roots
        self._postgres = database_url if database_url and "postgresql" in database_url else None
        self._tree_before = 0
        self._backends_before: dict[int, int] = {}
        self.use = CpuUse(0.0, 0.0)

    def _backend_ticks(self) -> dict[int, int]:
        if self._postgres is None:
            return {}
        return {pid: process_ticks(pid, children=False) for pid in _backends(self._postgres)}

    def __enter__(self) -> CpuMeter:
        self._backends_before = self._backend_ticks()
        self._tree_before = tree_ticks(self._roots)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        tree = tree_ticks(self._roots) - self._tree_before
        after = self._backend_ticks()
        # A backend that started during the span counts whole; one that ended is lost.
        database = sum(ticks - self._backends_before.get(pid, 0) for pid, ticks in after.items())
        self.use = CpuUse(tree / TICKS_PER_SECOND, max(0, database) / TICKS_PER_SECOND)
