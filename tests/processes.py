"""Helpers for tests that run ``retell-connector`` as a child process on loopback: a free
port, waiting for readiness, and stopping the whole process group (gunicorn's workers too)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx

__all__ = ["free_port", "is_ready", "stop_group", "wait_ready"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_ready(url: str, *, timeout: float = 2.0) -> bool:
    """Whether ``url``/readyz answers 200 now (a refused or slow connection is not ready)."""
    try:
        return httpx.get(f"{url}/readyz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(url: str, *, seconds: float = 30.0) -> bool:
    """True once ``url``/readyz answers 200, False if it has not within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_ready(url, timeout=1):
            return True
        time.sleep(0.1)
    return False


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group started with ``start_new_session``; SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
