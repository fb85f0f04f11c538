"""Which ModelVersion an InferenceService serves: an explicit version, or `latest` = the highest
Ready version of the model; and, when none can be served, a message saying why."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lepton.api.inferenceservice import InferenceServiceReason
from lepton.api.modelversion import LATEST, ModelVersionPhase

_PIECES = re.compile(r"(\d+)")


class Unresolved:
    """Why no version can be served (InferenceService condition reasons)."""

    NOT_FOUND = InferenceServiceReason.MODEL_VERSION_NOT_FOUND
    NOT_READY = InferenceServiceReason.MODEL_VERSION_NOT_READY
    FAILED = InferenceServiceReason.MODEL_VERSION_FAILED


@dataclass(frozen=True)
class VersionInfo:
    """What resolution needs to know about one ModelVersion."""

    name: str
    model: str
    version: str
    phase: ModelVersionPhase | None
    created: str = ""
    """creationTimestamp (RFC 3339, so it sorts as text); breaks ties between equal version keys."""
    reason: str = ""
    message: str = ""
    deleting: bool = False
    uid: str = ""
    """metadata.uid: which object of that name (a deleted and recreated namesake is another one)."""


@dataclass(frozen=True)
class Resolution:
    """The version to serve, or why there is none (reason/message for the Ready condition)."""

    version: VersionInfo | None
    reason: InferenceServiceReason | None = None
    message: str = ""


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: digit runs compare as numbers, so v2 < v10 and 1-9 < 1-10; a number sorts
    before text at the same position."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _PIECES.split(version) if p)


def ordering(info: VersionInfo) -> tuple[tuple[tuple[int, int | str], ...], str, str]:
    return version_key(info.version), info.created, info.name


def highest(versions: Iterable[VersionInfo]) -> VersionInfo | None:
    return max(versions, key=ordering, default=None)


def _describe(info: VersionInfo) -> str:
    phase = info.phase.value if info.phase else "Pending"
    detail = f": {info.message}" if info.message and info.phase is ModelVersionPhase.FAILED else ""
    return f"{info.name} is {phase}{detail}"


def resolve(model: str, version: str, candidates: Iterable[VersionInfo]) -> Resolution:
    """Resolve ``model``/``version`` (or ``latest``) among the ModelVersions of a namespace."""
    mine = [c for c in candidates if c.model == model and not c.deleting]
    if version != LATEST:
        matches = [c for c in mine if c.version == version]
        if not matches:
            return Resolution(
                None, Unresolved.NOT_FOUND, f"no ModelVersion of model {model!r} has version {version!r}"
            )
        ready = [c for c in matches if c.phase is ModelVersionPhase.READY]
        if ready:
            return Resolution(highest(ready))
        chosen = highest(matches)
        assert chosen is not None
        if chosen.phase is ModelVersionPhase.FAILED:
            return Resolution(None, Unresolved.FAILED, f"ModelVersion {_describe(chosen)}")
        return Resolution(
            None, Unresolved.NOT_READY, f"ModelVersion {_describe(chosen)}; waiting for verification"
        )
    if not mine:
        return Resolution(None, Unresolved.NOT_FOUND, f"no ModelVersion of model {model!r} exists")
    ready = [c for c in mine if c.phase is ModelVersionPhase.READY]
    if ready:
        return Resolution(highest(ready))
    pending = sorted((c for c in mine if c.phase is not ModelVersionPhase.FAILED), key=ordering)
    if pending:
        listed = ", ".join(_describe(c) for c in pending[-3:])
        return Resolution(None, Unresolved.NOT_READY, f"no Ready version of model {model!r} yet ({listed})")
    failed = sorted(mine, key=ordering)
    listed = "; ".join(_describe(c) for c in failed[-3:])
    noun = "version" if len(failed) == 1 else f"all {len(failed)} versions"
    return Resolution(
        None,
        Unresolved.NOT_READY,
        f"no Ready version of model {model!r}: {noun} failed verification ({listed})",
    )
