"""What to do when a dialled attempt ends: try again, put it back, or finish (pure logic).

Three answers, decided from Retell's ``disconnection_reason`` alone:

- ``requeue``: Retell turned the call away at the account's concurrency limit. The lead was
  never rung, so the attempt does not count and the call goes back in the queue at once.
- ``retry``: the outcome is one the queued call's policy retries, and retries remain.
- ``fail``: the outcome is one the policy retries, and the retries are used up.
- ``complete``: any other outcome (the call happened; its events say how it went).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["NOT_DIALLED_OUTCOMES", "RetryPolicy", "Verdict", "judge"]

# Endings that mean Retell never placed the call because of capacity, not the lead.
NOT_DIALLED_OUTCOMES = frozenset({"concurrency_limit_reached", "no_concurrency_fallback"})
DEFAULT_OUTCOMES = ("dial_no_answer", "dial_busy")
DEFAULT_WAIT_MINUTES = 60.0

Verdict = Literal["requeue", "retry", "fail", "complete"]


@dataclass(frozen=True)
class RetryPolicy:
    """Which outcomes to retry, how many more times, and how long to wait in between."""

    outcomes: tuple[str, ...] = DEFAULT_OUTCOMES
    max_retries: int = 0
    wait_minutes: float = DEFAULT_WAIT_MINUTES

    @property
    def wait_seconds(self) -> float:
        return self.wait_minutes * 60.0

    def to_json(self) -> dict[str, Any]:
        return {
            "outcomes": list(self.outcomes),
            "max_retries": self.max_retries,
            "wait_minutes": self.wait_minutes,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> RetryPolicy:
        """The policy from a validated ``retry`` input (or its stored JSON); None: no retry."""
        if not value:
            return cls()
        return cls(
            outcomes=tuple(value.get("outcomes") or DEFAULT_OUTCOMES),
            max_retries=int(value.get("max_retries", 0)),
            wait_minutes=float(value.get("wait_minutes", DEFAULT_WAIT_MINUTES)),
        )


def judge(policy: RetryPolicy, outcome: str | None, attempts_used: int) -> Verdict:
    """The verdict for an attempt that ended with ``outcome``.

    ``attempts_used`` counts the attempts that counted, this one included.
    """
    if outcome in NOT_DIALLED_OUTCOMES:
        return "requeue"
    if outcome is None or outcome not in policy.outcomes:
        return "complete"
    return "retry" if attempts_used <= policy.max_retries else "fail"
