"""``connector.retell.timing``: each request thread counts only its own time at Retell."""

from __future__ import annotations

import threading

from connector.retell import timing


def test_counts_add_up_and_reset() -> None:
    """Attempts add up within a request; a new request starts from nothing."""
    timing.reset()
    assert timing.server_timing() is None
    timing.add(12.0)
    timing.add(0.5)
    assert timing.server_timing() == 'retell;dur=12.5;desc="Retell API"'
    timing.reset()
    assert timing.server_timing() is None


def test_threads_do_not_see_each_others_time() -> None:
    """Concurrent requests on other threads leave this thread's count alone."""
    timing.reset()
    timing.add(5.0)
    seen: list[str | None] = []

    def other_request() -> None:
        timing.reset()
        timing.add(1000.0)
        seen.append(timing.server_timing())

    thread = threading.Thread(target=other_request)
    thread.start()
    thread.join()
    assert seen == ['retell;dur=1000.0;desc="Retell API"']
    assert timing.server_timing() == 'retell;dur=5.0;desc="Retell API"'
