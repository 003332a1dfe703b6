"""Processes starting together on a fresh SQLite database (gunicorn's workers) all come up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # five rounds of eight processes

ROUNDS = 5
PROCESSES = 8

# One interpreter imports the store once, then for each database forks the processes, which
# wait on a pipe until the parent closes it: all are released at the same instant.
_OPEN_TOGETHER = """
import os, sys, traceback
from connector.store.engine import create_store_engine

def open_database(url):
    modes = set()
    for n in range(10):  # new connections while the other processes write
        engine = create_store_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with engine.connect() as conn:
            modes.add(conn.exec_driver_sql("PRAGMA journal_mode").scalar())
        engine.dispose()
    return modes

processes = int(sys.argv[1])
failed = 0
for url in sys.argv[2:]:
    go_read, go_write = os.pipe()
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.read(go_read, 1)  # end of file once the parent closes its end
            try:
                line = " ".join([url, *sorted(open_database(url))]) + "\\n"
                os.write(1, line.encode())  # one write: lines from the processes do not mix
                os._exit(0)
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
                os._exit(1)
        children.append(pid)
    os.close(go_read)
    os.close(go_write)
    failed += sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid in children)
sys.exit(1 if failed else 0)
"""


def test_simultaneous_first_connections_do_not_fail(tmp_path: Path) -> None:
    """Eight processes open a new database at the same instant: none sees "database is locked".

    Switching to WAL needs the database to itself; before connections took the writer lock
    for it, about one run in three of this test failed that way. The processes are forked
    from one interpreter that has imported the store (as gunicorn forks its workers), so
    they are all started before they are released together, and the two cores go to the
    databases rather than to eight imports per round.
    """
    urls = [f"sqlite:///{tmp_path / f'fresh{round_}.db'}" for round_ in range(ROUNDS)]
    result = subprocess.run(
        [sys.executable, "-c", _OPEN_TOGETHER, str(PROCESSES), *urls],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    opened = sorted(result.stdout.splitlines())
    assert opened == sorted(f"{url} wal" for url in urls for _ in range(PROCESSES))
