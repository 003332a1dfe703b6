"""Standard Webhooks headers for a forwarded event, made by the ``standardwebhooks`` library.

``webhook-id`` is the event id, the same on every retry and replay, so a receiver can
dedupe on it; the signature covers ``id.timestamp.body`` with the subscription's secret.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

__all__ = ["signed_headers"]


def signed_headers(secret: str, message_id: str, body: str, *, now: float) -> dict[str, str]:
    moment = datetime.fromtimestamp(int(now), tz=UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
        "content-type": "application/json",
        "user-agent": "retell-connector",
    }
