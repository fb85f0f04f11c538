"""How many replicas each version runs during a canary step, and what share of traffic that gives.

With Gateway API the HTTPRoute splits traffic by weight, exactly: the stable version keeps all its
replicas (rolling back is then only a weight change, as Argo Rollouts does by default) and the new
version runs enough replicas for its share. Without it, one Service selects the pods of both
versions and kube-proxy spreads connections over the endpoints, so the split is the ratio of Ready
replicas: the nearest ratio the replica count allows, which status reports next to the step's weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def replicas_for_share(total: int, percent: int) -> int:
    """Replicas that carry `percent` % of the load `total` replicas carry: rounded up, at least one
    for any share above 0."""
    if percent <= 0 or total <= 0:
        return 0
    return max(1, math.ceil(total * percent / 100))


@dataclass(frozen=True)
class RatioSplit:
    """A split by replica counts (no Gateway API)."""

    candidate: int
    """Replicas of the new version."""
    stable: int
    """Replicas of the stable version."""
    asked: int
    """The step's weight."""

    @property
    def weight(self) -> int:
        """The share of traffic these counts give the new version, in percent."""
        both = self.candidate + self.stable
        return round(100 * self.candidate / both) if both else 0

    def describe(self) -> str:
        if self.weight == self.asked:
            return f"{self.candidate} of {self.candidate + self.stable} replicas: {self.weight} %"
        return (
            f"asked {self.asked} %, the nearest the replicas allow is {self.weight} % "
            f"({self.candidate} of {self.candidate + self.stable} replicas)"
        )


def ratio_split(total: int, percent: int) -> RatioSplit:
    """The nearest split of `total` replicas to `percent` % for the new version. Any share strictly
    between 0 and 100 keeps at least one replica of each version (one replica in all gives 1 + 1,
    50 %: the new version must be seen, the stable one must stay)."""
    if percent <= 0:
        return RatioSplit(0, max(total, 0), percent)
    if percent >= 100:
        return RatioSplit(max(total, 1), 0, percent)
    total = max(total, 1)
    candidate = min(max(1, math.floor(total * percent / 100 + 0.5)), max(total - 1, 1))
    return RatioSplit(candidate, max(total - candidate, 1), percent)


def stable_replicas_during_ratio(split: RatioSplit, total: int, candidate_ready: int) -> int:
    """The stable version's replicas while the new version comes up: it gives up one replica per
    Ready replica of the new version, never more, so capacity never drops below `total` before the
    new version is Ready (kserve#5983 shrank the stable version too early)."""
    return min(max(split.stable, total - candidate_ready), max(total, split.stable))
