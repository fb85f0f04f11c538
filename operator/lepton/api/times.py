"""Times as the API server writes them (RFC 3339, seconds, UTC, 'Z') and as the policies count
them (epoch seconds), and the conversions between the two."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field


def now() -> str:
    """The current time in the RFC 3339 form the API server uses (seconds, UTC, 'Z')."""
    return rfc3339(dt.datetime.now(dt.UTC))


def rfc3339(moment: dt.datetime) -> str:
    """`moment` as an RFC 3339 timestamp string, as metav1.Time serialises."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp written by the API server or by `rfc3339`."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def rfc3339_at(epoch: float) -> str:
    """Epoch seconds (the policies' clock) as an RFC 3339 timestamp string."""
    return rfc3339(dt.datetime.fromtimestamp(epoch, dt.UTC))


def epoch_of(value: str | None) -> float | None:
    """An RFC 3339 timestamp string as epoch seconds; None stays None."""
    return parse_time(value).timestamp() if value else None


Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An RFC 3339 timestamp string. Kept a string so dumps go to JSON and YAML as they are."""
