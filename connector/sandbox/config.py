"""The sandbox's knobs: the fake API key, where webhooks go, the simulated clock and the
account's concurrency limit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from connector.sandbox.concurrency import OVER_LIMIT_MODES

__all__ = ["SandboxConfig"]


@dataclass(frozen=True)
class SandboxConfig:
    """Settings for one simulated Retell account.

    The phase durations drive every call: ``ring_seconds`` registered → ongoing (or straight
    to not_connected/error), ``talk_seconds`` ongoing → ended, ``analysis_seconds``
    ended → analyzed. Tests shrink them to tens of milliseconds.
    """

    api_key: str = "sandbox-key"
    webhook_url: str | None = None
    ring_seconds: float = 1.0
    talk_seconds: float = 3.0
    analysis_seconds: float = 1.0
    latency_ms: int = 0
    """Delay added before answering every Retell API request (benchmarks)."""
    transcript_updates: bool = False
    """Send one ``transcript_updated`` event per turn, like an agent that opted in."""
    inbound_webhook_url: str | None = None
    """The numbers' inbound webhook: simulated inbound calls ask it for their agent and
    variables (``connector.sandbox.inbound``); None: the number's inbound agent answers."""
    webhook_timeout_seconds: float = 10.0
    webhook_retries: int = 3
    """Retries after the first attempt, as Retell documents ("up to 3 times")."""
    webhook_backoff_seconds: float = 0.5
    """Wait before the first retry; doubled for each further retry."""
    concurrency_limit: int = 20
    """Calls in progress at once, as Retell's pay-as-you-go default (see ``concurrency``)."""
    reserved_inbound_concurrency: int = 0
    """Slots of the limit kept for inbound calls: outbound calls get the rest."""
    concurrency_over_limit: str = "end"
    """A create over the limit: ``end`` (created, then ends with ``concurrency_limit_reached``,
    as Retell does) or ``429`` (refused, nothing created)."""

    def __post_init__(self) -> None:
        for name in ("ring_seconds", "talk_seconds", "analysis_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.latency_ms < 0 or self.webhook_retries < 0:
            raise ValueError("latency_ms and webhook_retries must not be negative")
        if not self.api_key:
            raise ValueError("api_key must not be empty")
        for name in ("concurrency_limit", "reserved_inbound_concurrency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number, 0 or more")
        if self.reserved_inbound_concurrency > self.concurrency_limit:
            raise ValueError("reserved_inbound_concurrency must not exceed concurrency_limit")
        if self.concurrency_over_limit not in OVER_LIMIT_MODES:
            raise ValueError(f"concurrency_over_limit must be one of {', '.join(OVER_LIMIT_MODES)}")

    @classmethod
    def fast(cls, **overrides: Any) -> SandboxConfig:
        """A clock for tests: a call is analyzed about 0.2 s after it is placed."""
        base = cls(
            ring_seconds=0.05,
            talk_seconds=0.1,
            analysis_seconds=0.05,
            webhook_timeout_seconds=2.0,
            webhook_backoff_seconds=0.02,
        )
        return replace(base, **overrides)
