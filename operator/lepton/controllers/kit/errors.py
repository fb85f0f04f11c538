"""The controllers' edge with kopf: a refused API request becomes kopf's temporary error (retried
after the delay the kube layer suggests) or its permanent error (not retried)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import kopf

from lepton.kube.errors import KubeError

P = ParamSpec("P")
T = TypeVar("T")


def to_kopf(exc: KubeError) -> kopf.TemporaryError | kopf.PermanentError:
    delay = exc.retry_after
    if delay is None:
        return kopf.PermanentError(str(exc))
    return kopf.TemporaryError(str(exc), delay=delay)


def kopf_errors(handler: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Wrap a kopf handler so a KubeError reaches kopf as the error that says whether to retry."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await handler(*args, **kwargs)
        except KubeError as exc:
            raise to_kopf(exc) from exc

    return wrapper
