"""The app factory: settings in, a ready Flask app out (no module-level app).

Resources are built once per process here and kept in ``app.extensions["connector"]``;
tests inject a Retell transport or a prepared engine instead of monkeypatching.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from flask import Flask, g, request
from sqlalchemy import Engine

from connector.background import Runner
from connector.calls import CallService
from connector.campaigns.factory import build_dialer
from connector.campaigns.queue import QueueStore
from connector.campaigns.service import CampaignService
from connector.delivery.factory import build_worker
from connector.delivery.ssrf import guarded_transport
from connector.inbound.responder import Responders
from connector.inbound.service import InboundService
from connector.limits import MAX_REQUEST_BYTES
from connector.logs import configure_logging
from connector.metrics import REQUESTS
from connector.retell import timing as retell_timing
from connector.retell.client import RetellClient
from connector.retell.retry import RetryPolicy
from connector.services import Services
from connector.settings import Settings, load_settings
from connector.store.delivery_log import DeliveryLog
from connector.store.engine import create_store_engine
from connector.store.idempotency import IdempotencyStore
from connector.store.inbox import EventInbox
from connector.store.subscriptions import SubscriptionStore

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    retell_transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    engine: Engine | None = None,
    delivery_transport: httpx.BaseTransport | None = None,
    run_delivery: bool = False,
    configure_logs: bool = True,
) -> Flask:
    """Build the connector; ``settings`` defaults to the environment.

    ``run_delivery`` starts this process's background loops, delivery and dialer (``serve``
    does; tests drive ``services().worker`` and ``services().dialer`` by hand instead).
    """
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(settings.connector_log_level, secrets=settings.secret_values())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = engine or create_store_engine(settings.connector_database_url)
    retell = RetellClient(
        api_key=settings.retell_api_key.get_secret_value(),
        base_url=settings.retell_base_url,
        timeout=settings.retell_timeout_seconds,
        transport=retell_transport,
        retry=retry,
    )
    keys = IdempotencyStore(
        engine,
        ttl_seconds=settings.idempotency_ttl_hours * 3600,
        lease_seconds=settings.retell_timeout_seconds * 2 + 30,
    )
    worker = build_worker(settings, engine, transport=delivery_transport)
    dialer = build_dialer(settings, engine, transport=retell_transport, wake_delivery=worker.wake)
    app.extensions["connector"] = Services(
        settings=settings,
        engine=engine,
        retell=retell,
        calls=CallService(retell, keys),
        idempotency=keys,
        inbox=EventInbox(engine),
        subscriptions=SubscriptionStore(engine),
        queue=worker.queue,
        delivery_log=DeliveryLog(engine),
        worker=worker,
        campaigns=CampaignService(
            QueueStore(engine),
            keys,
            wake_dialer=dialer.wake,
            default_region=settings.connector_default_region,
        ),
        dialer=dialer,
        inbound=InboundService(
            engine,
            Responders(guarded_transport(allow_private=settings.connector_allow_private_targets)),
        ),
    )
    if run_delivery:
        Runner({"delivery": worker, "dialer": dialer}).start()
    from connector.api import register_api

    register_api(app)
    from connector.console import init_console

    init_console(app)  # the web console at /console (issue 12)
    _time_requests(app)
    return app


def _time_requests(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        retell_timing.reset()

    @app.after_request
    def _observe(response: Any) -> Any:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(endpoint, str(response.status_code)).observe(elapsed)
        if (upstream := retell_timing.server_timing()) is not None:
            response.headers["Server-Timing"] = upstream
        return response
