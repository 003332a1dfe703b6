"""The per-process services a request handler uses, and the accessor for them.

A module of its own so the API blueprints import it (downwards) instead of the app factory.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine

from connector.calls import CallService
from connector.campaigns.dialer import Dialer
from connector.campaigns.service import CampaignService
from connector.delivery.worker import DeliveryWorker
from connector.inbound.service import InboundService
from connector.retell.client import RetellClient
from connector.settings import Settings
from connector.store.delivery_log import DeliveryLog
from connector.store.idempotency import IdempotencyStore
from connector.store.inbox import EventInbox
from connector.store.outbox import DeliveryQueue
from connector.store.subscriptions import SubscriptionStore

__all__ = ["Services", "services"]


@dataclass
class Services:
    """Everything a request handler needs, built once per process."""

    settings: Settings
    engine: Engine
    retell: RetellClient
    calls: CallService
    idempotency: IdempotencyStore
    inbox: EventInbox
    subscriptions: SubscriptionStore
    queue: DeliveryQueue
    delivery_log: DeliveryLog
    worker: DeliveryWorker
    campaigns: CampaignService
    dialer: Dialer
    inbound: InboundService

    def wake_delivery(self) -> None:
        """Tell this process's delivery loop that new work is due (others poll)."""
        self.worker.wake()

    def stop_background(self) -> None:
        """Stop this process's loops, delivery and dialer (``create_app(run_delivery=True)``
        starts both); each finishes its turn and records what it has under way."""
        self.worker.stop()
        self.dialer.stop()

    def wake_dialer(self) -> None:
        """Tell this process's dialer that a call was queued or a slot freed (others poll)."""
        self.dialer.wake()


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    found: Services = current_app.extensions["connector"]
    return found
