"""Child processes for the benchmarks: start, wait until they answer, measure, stop."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["Process", "free_port", "stop_all", "tree_rss_mib"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total_kib, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kib += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
        todo.extend(_children(current))
    return total_kib / 1024


_LIVE: set[Process] = set()


def stop_all(processes: list[Process]) -> None:
    """SIGTERM to every process's group at once, then wait for each (SIGKILL after 20 s):
    servers that shut down gracefully take about half a second each, so a side's processes
    stop together rather than one after another."""
    running = [p for p in processes if p.popen.poll() is None]
    for process in processes:
        _LIVE.discard(process)
    for process in running:
        os.killpg(process.popen.pid, signal.SIGTERM)
    for process in running:
        try:
            process.popen.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(10)


@atexit.register
def _stop_all() -> None:
    """No child outlives the benchmark, even when a metric fails halfway."""
    stop_all(list(_LIVE))


class Process:
    """A server as a child process in its own process group (stopped at exit at the latest)."""

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        ready: str | None = None,
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, *[a.replace("{port}", str(self.port)) for a in args]]
        self._log = Path(tempfile.mkdtemp(prefix="bench-proc-")) / "output.log"
        with self._log.open("wb") as log:
            self.popen = subprocess.Popen(
                command,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE.add(self)
        self._wait_ready(ready)

    def _wait_ready(self, path: str | None) -> None:
        if path == "":  # not a server: running is enough
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"server exited ({self.popen.returncode}): {self.log_tail()}")
            try:
                if path is None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return
                if httpx.get(self.url + path, timeout=1).status_code < 500:
                    return
            except (OSError, httpx.HTTPError):
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        """Until the process has printed ``text`` (a worker's "running" line)."""
        deadline = time.monotonic() + timeout
        while text not in self._log.read_text(errors="replace"):
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"never printed {text!r}: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the process's output, for error messages."""
        return self._log.read_text(errors="replace")[-chars:]

    @property
    def rss_mib(self) -> float:
        return tree_rss_mib(self.popen.pid)

    def stop(self) -> None:
        stop_all([self])

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
