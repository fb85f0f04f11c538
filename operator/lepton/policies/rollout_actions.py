"""The manual-control annotations of a rollout (lepton.ai/promote, abort, retry), parsed.

Each names the version it acts on, so that an annotation left in git (Argo CD keeps applying it)
never acts on another rollout: `<version>` or `<version>:<n>`, where n is a step index for promote
(end the pauses up to that step) and a retry count for abort and retry (see api/rollout.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lepton.api.rollout import ABORT_ANNOTATION, PROMOTE_ANNOTATION, RETRY_ANNOTATION

_VALUE = re.compile(r"^(?P<version>[a-z0-9]([-a-z0-9]*[a-z0-9])?)(:(?P<n>[0-9]{1,4}))?$")


@dataclass(frozen=True)
class Target:
    version: str
    n: int | None = None


@dataclass(frozen=True)
class Actions:
    promote: Target | None = None
    """n None: promote fully; n: end the pauses of steps up to index n."""
    abort: Target | None = None
    """n: the retry it aborts (None: the first rollout, 0)."""
    retry: Target | None = None
    """n: the retry it asks for (None: the first, 1)."""
    invalid: tuple[str, ...] = ()
    """Why an annotation was not understood (for an InvalidAnnotation condition or event)."""

    @property
    def abort_retry(self) -> int:
        return 0 if self.abort is None or self.abort.n is None else self.abort.n

    @property
    def retry_count(self) -> int:
        return 1 if self.retry is None or self.retry.n is None else self.retry.n


def actions_from(annotations: Mapping[str, str] | None) -> Actions:
    """The actions the object's annotations ask for; malformed values are reported, never guessed."""
    found: dict[str, Target | None] = {}
    invalid: list[str] = []
    for key in (PROMOTE_ANNOTATION, ABORT_ANNOTATION, RETRY_ANNOTATION):
        raw = (annotations or {}).get(key)
        if raw is None:
            found[key] = None
            continue
        match = _VALUE.match(raw.strip())
        if match is None:
            invalid.append(f"{key}: {raw!r} is not '<version>' or '<version>:<number>'")
            found[key] = None
            continue
        n = match.group("n")
        found[key] = Target(match.group("version"), int(n) if n is not None else None)
    retry = found[RETRY_ANNOTATION]
    if retry is not None and retry.n == 0:
        invalid.append(f"{RETRY_ANNOTATION}: retries count from 1")
        retry = None
    return Actions(found[PROMOTE_ANNOTATION], found[ABORT_ANNOTATION], retry, tuple(invalid))
