"""Running the sandbox: in the foreground for the CLI, in a thread for tests, both stopping cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import httpx

from connector.sandbox import SandboxConfig, SandboxServer, WebhookRecorder

SCRIPT = (
    "from connector.sandbox import SandboxConfig, serve_sandbox; "
    "serve_sandbox(SandboxConfig(api_key='cli-key'), port=0)"
)


def test_serve_sandbox_prints_its_url_and_key_then_stops_on_sigterm() -> None:
    """The one line names the URL and key; the server answers; SIGTERM exits 0."""
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+) \(API key: cli-key", line)
        assert found, line
        response = httpx.get(
            f"{found[1]}/get-api-key-info", headers={"Authorization": "Bearer cli-key"}
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert response.status_code == 200


def sandbox_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(("retell-sandbox", "wsgi-"))}


def test_leaving_the_server_stops_every_thread_it_started() -> None:
    """After the with-block no clock, webhook or HTTP thread of the sandbox is left."""
    before = sandbox_threads()
    with (
        WebhookRecorder() as recorder,
        SandboxServer(SandboxConfig.fast(webhook_url=recorder.url)) as server,
    ):
        headers = {"Authorization": f"Bearer {server.config.api_key}"}
        body = {"from_number": "+14157774444", "to_number": "+14155550123"}
        call_id = httpx.post(
            f"{server.url}/v2/create-phone-call", json=body, headers=headers
        ).json()["call_id"]
        server.state.wait_for(call_id, "ongoing")
        recorder.wait_for(1)
        assert len(sandbox_threads() - before) >= 3  # clock, webhook senders, HTTP servers
    assert sandbox_threads() == before
