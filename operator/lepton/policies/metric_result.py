"""The classified result of one metric query, as the autoscaler consumes it.

lepton.prom produces these (it may import the pure core; the pure core may not import it), and
policies.autoscaling decides on them. Nothing downstream of the Prometheus client sees a raw
exception or a raw float that could be NaN: every outcome is one of four values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Value:
    """One finite number."""

    value: float


@dataclass(frozen=True)
class Empty:
    """The query ran and matched nothing (no series yet, or none any more)."""

    reason: str = "the query returned no series"


@dataclass(frozen=True)
class NotFinite:
    """The query gave NaN or +-Inf (e.g. a rate divided by a zero rate, a quantile of no requests).

    Kept as Prometheus's text ("NaN", "+Inf", "-Inf") rather than a float, because NaN != NaN would
    make two equal results compare unequal.
    """

    text: str


@dataclass(frozen=True)
class Error:
    """The query could not be answered: transport, HTTP, Prometheus or shape error."""

    message: str


MetricResult = Value | Empty | NotFinite | Error


def describe(result: MetricResult) -> str:
    """A short human-readable account of `result`, for status messages and events."""
    match result:
        case Value(value):
            return f"{value:g}"
        case Empty(reason):
            return f"no data ({reason})"
        case NotFinite(text):
            return f"not a finite number ({text})"
        case Error(message):
            return f"query failed: {message}"
