"""The background runner (delivery and dialer together) and readiness of the dialer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.app import create_app
from connector.background import Runner
from tests.conftest import FakeRetell, make_settings


class FakeLoop:
    """A loop whose thread waits until stopped, or dies when told to."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.die = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not (self.stopped.wait(0.01) or self.die.is_set()):
            pass

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> FakeLoop:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        self.stopped.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        self._thread.join(timeout)


def test_runner_starts_and_stops_every_loop() -> None:
    """request_stop ends wait() with True and every loop is stopped."""
    loops = {"a": FakeLoop(), "b": FakeLoop()}
    runner = Runner(dict(loops)).start()
    assert all(loop.alive for loop in loops.values())
    threading.Timer(0.05, runner.request_stop).start()
    assert runner.wait() is True
    assert not any(loop.alive for loop in loops.values())


def test_a_dead_loop_stops_the_others_and_fails_the_wait() -> None:
    """When one loop dies the rest are stopped and wait() says so (the process exits 1)."""
    dying, healthy = FakeLoop(), FakeLoop()
    runner = Runner({"dying": dying, "healthy": healthy}).start()
    dying.die.set()
    assert runner.wait() is False
    assert not healthy.alive


@pytest.fixture
def running(tmp_path: Path, retell: FakeRetell) -> Iterator[Flask]:
    """An app that started its background loops, as ``serve`` does; stopped afterwards."""
    retell.reply("GET", "/get-concurrency", 200, {"concurrency_limit": 1})
    app = create_app(
        make_settings(tmp_path),
        retell_transport=retell.transport,
        run_delivery=True,
        configure_logs=False,
    )
    yield app
    app.extensions["connector"].stop_background()


def test_readiness_reports_the_dialer(running: Flask) -> None:
    """/readyz says whether this process dials, and fails once its dialer has stopped."""
    client: FlaskClient = running.test_client()
    assert client.get("/readyz").json["checks"]["dialer"] == "running"
    running.extensions["connector"].dialer.stop()
    stopped = client.get("/readyz")
    assert stopped.status_code == 503
    assert "dialer" in stopped.json["detail"]


def test_stop_background_stops_both_loops(running: Flask) -> None:
    """An app that started its loops (delivery and dialer) stops both with one call."""
    services = running.extensions["connector"]
    assert services.worker.alive and services.dialer.alive
    services.stop_background()
    assert not services.worker.alive and not services.dialer.alive
