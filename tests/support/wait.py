"""Bounded waits: the only way tests wait for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.2,
    seen: Callable[[], object] | None = None,
) -> T:
    """Call ``predicate`` until it returns a truthy value and return that value.

    On timeout, fail with a message naming what was expected and what was last seen: the last
    value returned, or what ``seen()`` reports when given (say, an object's status), or the last
    exception the predicate raised.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            if seen is not None:
                try:
                    last = seen()
                except Exception as exc:
                    last = exc
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def holds(
    predicate: Callable[[], object],
    seconds: float,
    what: str,
    interval: float = 0.5,
    seen: Callable[[], object] | None = None,
) -> None:
    """Check that ``predicate`` stays truthy for ``seconds``: the bounded observation that shows
    something does not happen (no retry loop, no second pod), failing at the first falsy value."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if not value:
            shown = seen() if seen is not None else value
            raise AssertionError(f"{what} stopped holding; seen: {shown!r}")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)
