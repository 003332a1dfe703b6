"""C: the console's pages with 100,000 deliveries in the store (issue 12).

Times the pages a builder opens most — the delivery log's first page, a page halfway down
(reached by keyset cursor), the dead letters, one delivery, the overview — through the real
console over HTTP (sign-in, session cookie, Jinja) on a loopback server. The ceiling is the
store work that cannot be skipped: the same page query, run in-process against the same
database. Metric id 'C' of ``bench.run``; ``--quick`` stores 2,000 deliveries
(``Size.console_deliveries``).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import Engine

from bench.metrics import Metric, Size
from bench.spread import Spread
from connector.app import create_app
from connector.loopback import LoopbackServer
from connector.sandbox import SandboxConfig, SandboxServer
from connector.settings import Settings
from connector.store.delivery_pages import DeliveryFilter, DeliveryPages, encode_cursor
from connector.store.engine import create_store_engine
from connector.store.tables import deliveries, events, metadata
from connector.tenancy import owner_of

__all__ = ["c_console_pages"]

TOKEN = "bench-console-token-0123456789"
REQUESTS = 30  # per page and round
GOAL_MS = 250.0
_BATCH = 5_000


def _seed(engine: Engine, owner: str, count: int, now: float) -> list[tuple[float, str]]:
    """``count`` events and deliveries, a second apart, newest at ``now``; every third dead."""
    keys = []
    for start in range(0, count, _BATCH):
        event_rows, delivery_rows = [], []
        for i in range(start, min(count, start + _BATCH)):
            at = now - i
            event_rows.append(
                {
                    "id": f"evt_bench_{i:07d}",
                    "dedupe_key": f"bench:{i}",
                    "event": "call_analyzed" if i % 2 else "call_ended",
                    "call_id": f"call_bench_{i}",
                    "agent_id": None,
                    "body": "{}",
                    "received_at": at,
                }
            )
            delivery_rows.append(
                {
                    "id": f"dlv_bench_{i:07d}",
                    "event_id": f"evt_bench_{i:07d}",
                    "subscription_id": "sub_bench",
                    "owner": owner,
                    "state": "dead" if i % 3 == 0 else "succeeded",
                    "attempts": 1,
                    "cycle_start": 0,
                    "created_at": at,
                    "delivered_at": None if i % 3 == 0 else at + 0.5,
                }
            )
            keys.append((at, f"dlv_bench_{i:07d}"))
        with engine.begin() as conn:
            conn.execute(events.insert(), event_rows)
            conn.execute(deliveries.insert(), delivery_rows)
    if engine.dialect.name == "postgresql":
        # What autovacuum does within a minute of such a load. Timed straight after it, the
        # planner still believes the tables empty: a page deep in the log then joined every
        # older delivery and sorted them (~100 ms instead of ~2), in the console's page and
        # in its ceiling alike, which is not what a builder with 100,000 deliveries sees.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                f"ANALYZE {events.name}, {deliveries.name}"
            )
    return keys


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def _median_ms(work: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return float(statistics.median(samples))


def _sign_in(client: httpx.Client) -> None:
    form = client.get("/console/sign-in").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found, "no sign-in form"
    answer = client.post("/console/sign-in", data={"token": TOKEN, "csrf_token": found.group(1)})
    assert answer.status_code == 303, answer.text


def c_console_pages(size: Size, postgres_url: str | None = None) -> Metric:
    """Median time of the delivery log's pages with ``size.console_deliveries`` stored (100,000
    in a full run), against the store."""
    owner = owner_of(TOKEN)
    count = size.console_deliveries
    with (
        tempfile.TemporaryDirectory(prefix="bench-console-") as tmp,
        SandboxServer(SandboxConfig.fast()) as sandbox,
    ):
        url = postgres_url or f"sqlite:///{Path(tmp) / 'console.db'}"
        engine = create_store_engine(url)
        _empty(engine)
        now = time.time()
        keys = _seed(engine, owner, count, now)
        middle = encode_cursor(*keys[count // 2])
        settings = Settings(
            _env_file=None,
            retell_api_key=sandbox.config.api_key,
            retell_base_url=sandbox.url,  # the overview asks Retell's concurrency
            connector_api_tokens=TOKEN,
            connector_database_url=url,
            connector_log_level="WARNING",
        )
        app = create_app(settings, engine=engine, configure_logs=False)
        pages = DeliveryPages(engine)
        paths = {
            "first": ("/console/deliveries", DeliveryFilter(), None),
            "middle": (f"/console/deliveries?cursor={middle}", DeliveryFilter(), middle),
            "dead": ("/console/deliveries?state=dead", DeliveryFilter(state="dead"), None),
        }
        rounds: dict[str, list[float]] = {name: [] for name in paths}
        ceilings: dict[str, list[float]] = {name: [] for name in paths}
        extra: dict[str, list[float]] = {"one delivery": [], "overview": []}
        try:
            with LoopbackServer(app) as server, httpx.Client(base_url=server.url) as client:
                _sign_in(client)
                for _ in range(size.rounds):
                    for name, (path, where, cursor) in paths.items():
                        rounds[name].append(_median_ms(partial(client.get, path), REQUESTS))
                        query = partial(pages.page, owner, where, cursor=cursor, limit=50)
                        ceilings[name].append(_median_ms(query, REQUESTS))
                    one = partial(client.get, f"/console/deliveries/{keys[count // 3][1]}")
                    extra["one delivery"].append(_median_ms(one, REQUESTS))
                    extra["overview"].append(_median_ms(partial(client.get, "/console/"), 5))
        finally:
            services = app.extensions["connector"]
            services.worker.stop()
            services.dialer.stop()
            _empty(engine)
            engine.dispose()
    value = Spread.of(rounds["first"])
    ceiling = Spread.of(ceilings["first"])
    ratios = Spread.of(c / b for c, b in zip(rounds["first"], ceilings["first"], strict=True))
    details: dict[str, object] = {
        "store": "postgresql" if postgres_url else "sqlite",
        **{f"{name} page ms": Spread.of(found) for name, found in rounds.items()},
        **{f"{name} ceiling ms": Spread.of(found) for name, found in ceilings.items()},
        **{f"{name} ms": Spread.of(found) for name, found in extra.items()},
    }
    worst = max(statistics.median(found) for found in rounds.values())
    return Metric(
        f"C console page, {count:,} deliveries ({details['store']})",
        value.median,
        "ms",
        ceiling.median,
        value.median / ceiling.median if ceiling.median else None,
        f"every delivery-log page ≤ {GOAL_MS:.0f} ms",
        worst <= GOAL_MS,
        details=details,
        spread=value,
        ratio_spread=ratios,
    )
