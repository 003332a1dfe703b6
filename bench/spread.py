"""A figure measured over several rounds: its median and its spread (lowest-highest).

Every metric prints its spread so that a reader can tell noise from change: two runs whose
ranges overlap have not shown a difference.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Spread", "percentile"]


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.5 is the median)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    return ordered[int(fraction * (len(ordered) - 1))]


@dataclass(frozen=True)
class Spread:
    """The median of a figure over rounds, with the lowest and highest round."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        found = [float(v) for v in values]
        if not found:
            raise ValueError("no rounds measured")
        return cls(float(statistics.median(found)), min(found), max(found))

    def text(self, digits: int = 1) -> str:
        """``832.0 (790.1-850.2)``; just the figure when every round gave the same."""
        figure = f"{self.median:,.{digits}f}"
        if f"{self.low:,.{digits}f}" == f"{self.high:,.{digits}f}":
            return figure
        return f"{figure} ({self.low:,.{digits}f}-{self.high:,.{digits}f})"
