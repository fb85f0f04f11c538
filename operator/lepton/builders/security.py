"""Security contexts of the pods Lepton makes: the restricted Pod Security profile by default
(non-root, no privilege escalation, seccomp RuntimeDefault, every capability dropped), a read-only
root filesystem where the runtime in the container is known to write only to its volumes.

A TrainingJob's template may relax any of it: a field the user set in the template's pod or
container securityContext wins over the default (merged field by field, capabilities key by key),
so `readOnlyRootFilesystem: false` or `runAsNonRoot: false` is an explicit choice."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

RUN_AS_USER = 1000
"""The numeric USER of the lepton/server and lepton/trainer images (images/*/Dockerfile)."""
# The API server refuses allowPrivilegeEscalation: false beside these, so a template asking for
# them keeps its escalation (and is refused by a restricted namespace, as it should be).
_NEEDS_ESCALATION = frozenset({"SYS_ADMIN", "CAP_SYS_ADMIN"})


def restricted_pod() -> dict[str, Any]:
    """The pod securityContext of the restricted profile. No runAsUser: the image's numeric USER
    lets the kubelet check runAsNonRoot (the lepton images run as 1000)."""
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_container(read_only_root: bool) -> dict[str, Any]:
    """The container securityContext of the restricted profile (plus a read-only root if asked)."""
    context: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    if read_only_root:
        context["readOnlyRootFilesystem"] = True
    return context


def lepton_pod() -> dict[str, Any]:
    """Pods that run Lepton's own images (verification, model server, activator): the image's
    user, named explicitly, and group-owned volumes."""
    return {
        **restricted_pod(),
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
    }


def lepton_container() -> dict[str, Any]:
    return {**restricted_container(read_only_root=True), "runAsNonRoot": True}


def merged_pod(user: Mapping[str, Any] | None) -> dict[str, Any]:
    """The restricted pod securityContext under the user's: theirs wins field by field."""
    return {**restricted_pod(), **copy.deepcopy(dict(user or {}))}


def merged_container(user: Mapping[str, Any] | None, read_only_root: bool) -> dict[str, Any]:
    """The restricted container securityContext under the user's: theirs wins field by field, and
    key by key inside capabilities (adding NET_BIND_SERVICE keeps drop: [ALL])."""
    own = copy.deepcopy(dict(user or {}))
    context = restricted_container(read_only_root)
    added = {str(c).upper() for c in (own.get("capabilities") or {}).get("add") or []}
    if own.get("privileged") or added & _NEEDS_ESCALATION:
        context.pop("allowPrivilegeEscalation")
    if "capabilities" in own:
        own["capabilities"] = {**context["capabilities"], **(own["capabilities"] or {})}
    return {**context, **own}
