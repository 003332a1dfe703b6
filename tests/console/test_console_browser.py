"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against a real connector, the Retell sandbox and a subscriber, all on loopback.

Each test saves a screenshot of the page when it fails (``.cache/console-screenshots/``).
axe-core (pinned in ``tests/console/node``, installed by ``.ci/run`` into
``.cache/console-axe``) checks every page: no serious or critical violation.

Locally the tests skip when Chromium, Playwright or axe-core is missing; in CI they fail.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from connector.settings import Settings
from tests.conftest import TOKEN
from tests.console.conftest import OTHER_TOKEN
from tests.subscriber import Reply, Subscriber

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".cache" / "console-axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / ".cache" / "console-screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SANDBOX_KEY = "sandbox-key-console"
FROM_NUMBER = "+14157774444"  # the sandbox's Sales line


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not AXE.exists():
        return f"{AXE} is missing (run .ci/run, or npm ci in .cache/console-axe)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


class Stack:
    """Sandbox → connector → subscriber on loopback, and an API client for setting up."""

    def __init__(self, tmp: Path) -> None:
        self.connector = LoopbackServer()
        self.subscriber = Subscriber()
        config = SandboxConfig.fast(
            api_key=SANDBOX_KEY, webhook_url=f"{self.connector.url}/v1/webhooks/retell"
        )
        self.sandbox = SandboxServer(config)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            retell_api_key=SANDBOX_KEY,
            retell_base_url=self.sandbox.url,
            connector_api_tokens=f"{TOKEN},{OTHER_TOKEN}",
            connector_database_url=f"sqlite:///{tmp / 'console.db'}",
            connector_allow_private_targets=True,
            connector_retry_schedule="0.2,0.2",
            connector_log_level="WARNING",
            sandbox=True,
        )
        self.app = create_app(settings, run_delivery=True, configure_logs=False)
        self.connector.app = self.app
        self.api = httpx.Client(
            base_url=self.connector.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )

    @property
    def url(self) -> str:
        return self.connector.url

    def start(self) -> Stack:
        self.sandbox.start()
        self.subscriber.__enter__()
        self.connector.start()
        return self

    def close(self) -> None:
        self.api.close()
        services = self.app.extensions["connector"]
        services.stop_background()
        self.connector.close()
        self.subscriber.__exit__(None, None, None)
        self.sandbox.close()

    def subscribe(self, path: str = "/hook") -> dict[str, Any]:
        url = self.subscriber.url.replace("/hook", path)
        response = self.api.post("/v1/triggers/call-events/subscriptions", json={"target_url": url})
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    def place_call(self) -> str:
        body = {"from_number": FROM_NUMBER, "to_number": "+14155550123"}
        response = self.api.post("/v1/actions/create-phone-call", json=body)
        response.raise_for_status()
        return str(response.json()["call_id"])

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        items = self.api.get("/v1/deliveries", params={"limit": 500}).json()["items"]
        (found,) = [d for d in items if d["id"] == delivery_id]
        return dict(found)

    def wait_deliveries(self, state: str, count: int, timeout: float = 20.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            items = self.api.get("/v1/deliveries", params={"state": state}).json()["items"]
            if len(items) >= count or time.monotonic() > deadline:
                return list(items)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("console-browser")).start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; a screenshot if the test fails."""
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core only
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
        shot = SHOTS / f"{name}.png"
        opened.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    context.close()


def sign_in(page: Any, stack: Stack, token: str = TOKEN) -> None:
    page.goto(f"{stack.url}/console/")
    page.get_by_label("Connection token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.url}/console/")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return found


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_sign_in(page: Any, stack: Stack) -> None:
    """The token signs in: the overview shows, the token is nowhere in the page."""
    sign_in(page, stack)
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert TOKEN not in page.content()
    cookie = next(c for c in page.context.cookies() if c["name"] == "connector_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_a_delivered_event_appears(page: Any, stack: Stack) -> None:
    """A real sandbox call's events are delivered and listed as succeeded."""
    stack.subscribe("/hook")
    call_id = stack.place_call()
    stack.wait_deliveries("succeeded", 2)
    sign_in(page, stack)
    page.get_by_role("link", name="Deliveries").click()
    page.get_by_label("State").select_option("succeeded")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("tbody tr")
    assert rows.count() >= 2
    assert "call_analyzed" in page.locator("tbody").inner_text()
    rows.first.get_by_role("link", name=re.compile("Open")).click()
    assert call_id in page.content()
    assert "HTTP 204" in page.locator("table.attempts").inner_text() or "HTTP 200" in (
        page.locator("table.attempts").inner_text()
    )


def test_failing_attempts_then_replay_adds_one(page: Any, stack: Stack) -> None:
    """A failing subscriber's delivery shows its attempts; Replay adds a new, successful one."""
    stack.subscriber.script(*[Reply(status=503, body="down for maintenance")] * 3)
    for sub in stack.api.get("/v1/triggers/call-events/subscriptions").json()["items"]:
        stack.api.delete(f"/v1/triggers/call-events/subscriptions/{sub['id']}")
    sub = stack.subscribe("/hook")
    sign_in(page, stack)
    page.goto(f"{stack.url}/console/subscriptions")
    page.get_by_role("button", name="Send test event").click()
    assert "test event is on its way" in page.get_by_role("status").inner_text()
    dead = stack.wait_deliveries("dead", 1)
    (mine,) = [d for d in dead if d["subscription_id"] == sub["id"]]
    page.goto(f"{stack.url}/console/deliveries?state=dead&subscription={sub['id']}")
    page.locator("tbody tr").first.get_by_role("link", name=re.compile("Open")).click()
    attempts = page.locator("table.attempts tbody tr")
    assert attempts.count() == 3
    assert "down for maintenance" in page.locator("table.attempts").inner_text()
    page.get_by_role("button", name="Replay this delivery").click()
    assert "queued again" in page.get_by_role("status").inner_text()
    wait_until(lambda: stack.delivery(mine["id"])["state"] == "succeeded")
    page.reload()
    assert page.locator("table.attempts tbody tr").count() == 4
    assert "HTTP 200" in page.locator("table.attempts tbody tr").last.inner_text()


def test_pause_and_resume_a_campaign(page: Any, stack: Stack) -> None:
    """Pause, then Resume, from the campaign's page; the API agrees each time."""
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86_400))
    body = {
        "campaign": "winter",
        "from_number": FROM_NUMBER,
        "to_number": "+14155550199",
        "call_window": "anytime",
        "not_before": later,
    }
    stack.api.post("/v1/actions/queue-phone-call", json=body).raise_for_status()
    sign_in(page, stack)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="winter").click()
    page.get_by_role("button", name="Pause campaign").click()
    assert "paused" in page.get_by_role("status").inner_text()
    assert stack.api.get("/v1/campaigns").json()["items"][0]["paused"] is True
    page.get_by_role("button", name="Resume campaign").click()
    assert "running again" in page.get_by_role("status").inner_text()
    assert stack.api.get("/v1/campaigns").json()["items"][0]["paused"] is False


def test_sign_out(page: Any, stack: Stack) -> None:
    """Sign out returns to the sign-in page, and the console is closed again."""
    sign_in(page, stack)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/console/sign-in"))
    assert "You are signed out." in page.content()
    page.goto(f"{stack.url}/console/deliveries")
    assert page.url.endswith("/console/sign-in")


def test_no_serious_accessibility_violation_on_any_page(page: Any, stack: Stack) -> None:
    """axe-core finds no serious or critical violation on any console page."""
    page.goto(f"{stack.url}/console/sign-in")
    found = {"sign-in": serious_violations(page)}
    sign_in(page, stack)
    if not stack.api.get("/v1/deliveries").json()["items"]:
        stack.subscribe("/hook")
        stack.place_call()
        stack.wait_deliveries("succeeded", 1)
    delivery = stack.api.get("/v1/deliveries").json()["items"][0]["id"]
    calls = stack.sandbox.state.book.views()
    call_id = calls[0][1]["call_id"] if calls else "call_none"
    paths = [
        "/console/",
        "/console/subscriptions",
        "/console/deliveries",
        "/console/deliveries?since=not-a-date",
        f"/console/deliveries/{delivery}",
        "/console/calls",
        f"/console/calls/{call_id}",
        "/console/campaigns",
        "/console/setup",
        "/console/no-such-page",
    ]
    campaigns = stack.api.get("/v1/campaigns").json()["items"]
    if campaigns:
        paths.append(f"/console/campaigns/{campaigns[0]['name']}")
    for path in paths:
        page.goto(f"{stack.url}{path}")
        found[path] = serious_violations(page)
    assert {path: v for path, v in found.items() if v} == {}


def test_keyboard_reaches_every_nav_link(page: Any, stack: Stack) -> None:
    """Tab from the top reaches the skip link, then each navigation link in order."""
    sign_in(page, stack)
    names = []
    for _ in range(8):
        page.keyboard.press("Tab")
        names.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    assert names[:7] == [
        "Skip to content",
        "Overview",
        "Subscriptions",
        "Deliveries",
        "Calls",
        "Campaigns",
        "Setup",
    ]


def test_screenshot_of_the_overview(page: Any, stack: Stack) -> None:
    """The overview renders with data (the README's picture is made the same way)."""
    sign_in(page, stack)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{stack.url}/console/")
    assert page.locator("figure.chart svg").count() == 3
    target = os.environ.get("CONSOLE_SCREENSHOT")
    if target:
        page.screenshot(path=target, full_page=True)
