"""What the autoscaler remembers between rounds, and its small JSON form kept in the status."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AutoscalerState:
    """What the autoscaler remembers between rounds (HPA keeps the same in memory; this lives in the
    object's status, so an operator restart does not reset windows)."""

    recommendations: tuple[tuple[float, int], ...] = ()
    """(time, raw recommendation) of the rounds within the longest stabilisation window."""
    scale_events: tuple[tuple[float, int], ...] = ()
    """(time, replica change) within the longest policy period."""
    failures: int = 0
    """Rounds in a row without a usable metric."""
    burst_since: float | None = None
    """When burst mode was last triggered (None: not in burst mode)."""
    burst_max: int = 0
    """Highest recommendation seen in the current burst (it never goes below it)."""
    last_scale_time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-able dict; empty fields are left out."""
        data: dict[str, Any] = {}
        if self.recommendations:
            data["recommendations"] = [[t, n] for t, n in self.recommendations]
        if self.scale_events:
            data["scaleEvents"] = [[t, n] for t, n in self.scale_events]
        if self.failures:
            data["failures"] = self.failures
        if self.burst_since is not None:
            data["burstSince"] = self.burst_since
            data["burstMax"] = self.burst_max
        if self.last_scale_time is not None:
            data["lastScaleTime"] = self.last_scale_time
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> AutoscalerState:
        """The state `to_dict` wrote. Malformed parts (a hand-edited status, another operator
        version) are dropped rather than raised: a fresh window only makes scaling less stable."""
        data = data or {}
        burst_since = _number(data.get("burstSince"))
        return cls(
            recommendations=_pairs(data.get("recommendations")),
            scale_events=_pairs(data.get("scaleEvents")),
            failures=max(int(_number(data.get("failures")) or 0), 0),
            burst_since=burst_since,
            burst_max=int(_number(data.get("burstMax")) or 0) if burst_since is not None else 0,
            last_scale_time=_number(data.get("lastScaleTime")),
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _pairs(value: Any) -> tuple[tuple[float, int], ...]:
    if not isinstance(value, list):
        return ()
    pairs = []
    for item in value:
        if isinstance(item, list) and len(item) == 2:
            t, n = _number(item[0]), _number(item[1])
            if t is not None and n is not None:
                pairs.append((t, int(n)))
    return tuple(pairs)
