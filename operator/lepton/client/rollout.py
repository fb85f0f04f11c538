"""Pure: manual rollout control. The rollout controller acts on annotations of the
InferenceService whose value is the model version they apply to; these say which."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lepton.client.errors import UsageError

ANNOTATIONS = {"promote": "lepton.ai/promote", "abort": "lepton.ai/abort", "retry": "lepton.ai/retry"}
LATEST = "latest"


def target_version(isvc: Mapping[str, Any], action: str) -> str:
    """The version an action acts on when none is given: the canary's; for retry, with no canary,
    the pinned spec.model.version when it is not what serves (the one rolled back)."""
    status = isvc.get("status") or {}
    canary = status.get("canary") or {}
    if canary.get("version"):
        return str(canary["version"])
    if action == "retry":
        wanted = str((isvc.get("spec") or {}).get("model", {}).get("version") or "")
        if wanted and wanted not in (LATEST, status.get("currentVersion")):
            return wanted
    name = isvc.get("metadata", {}).get("name", "NAME")
    raise UsageError(
        f"lisvc/{name} has no rollout in progress to {action}",
        f"name the version: `lepton rollout {action} {name} --version V` (`lepton rollout status {name}`)",
    )


def annotation_patch(action: str, version: str) -> dict[str, Any]:
    if action not in ANNOTATIONS:
        raise UsageError(f"unknown rollout action {action!r}", "use promote, abort or retry")
    return {"metadata": {"annotations": {ANNOTATIONS[action]: version}}}
