"""Acting on policies.activation: the backend Service the activator forwards to, the activator
Deployment itself, and its removal once the stable Service is seen selecting the servers again.
Also the two ways the serving reconcile applies a child (apply_if_changed, apply_refusable)."""

from __future__ import annotations

import logging
from typing import Any

from lepton.api.inferenceservice import InferenceService, InferenceServiceReason
from lepton.builders.activator import construct_activator, construct_backend_service
from lepton.builders.inference import APPLIED_HASH
from lepton.controllers.kit.events import Events
from lepton.controllers.serving.context import Serving
from lepton.kube import resources
from lepton.kube.apply import apply
from lepton.kube.errors import KubeError
from lepton.policies.activation import Activation
from lepton.policies.inference import DeploymentState, needs_apply

log = logging.getLogger("lepton.inferenceservice")


async def act(
    isvc: InferenceService,
    state: Activation,
    activator: DeploymentState | None,
    serving: Serving,
    events: Events,
) -> None:
    if state.backend_version is not None:
        await apply_if_changed(
            serving, construct_backend_service(isvc, state.backend_version), "services", None
        )
    if state.activator:
        observed = activator.applied_hash if activator is not None and not activator.deleting else None
        await apply_if_changed(serving, construct_activator(isvc, serving.config), "deployments", observed)
    elif activator is not None and not activator.deleting:
        ref = resources.Ref("apps/v1", "deployments", isvc.namespace, activator.name)
        if await resources.delete(serving.kube, ref):
            serving.applied.pop(f"{isvc.namespace}/deployments/{activator.name}", None)
            events.normal(InferenceServiceReason.ACTIVATED, "a replica is ready: the activator left the path")


async def apply_if_changed(serving: Serving, body: dict[str, Any], plural: str, observed: str | None) -> bool:
    """Apply ``body`` unless it is as this process last applied it (or as observed)."""
    digest = body["metadata"]["annotations"][APPLIED_HASH]
    ident = f"{body['metadata']['namespace']}/{plural}/{body['metadata']['name']}"
    last = serving.applied.get(ident)
    if observed is None and last == digest:
        return False
    if not needs_apply(digest, observed, last):
        return False
    await apply(serving.kube, body, plural)
    serving.applied[ident] = digest
    return True


async def apply_refusable(
    serving: Serving, ident: str, digest: str, body: dict[str, Any], plural: str
) -> str | None:
    """Apply ``body``; the API server's message when it refuses the object for good (a 4xx that
    retrying cannot fix): reported as ConfigError, tried again on the next reconcile, not in a loop."""
    try:
        await apply(serving.kube, body, plural)
    except KubeError as exc:
        if not exc.config_error:
            raise
        log.warning("the API server refused %s: %s", ident, exc)
        return exc.message
    serving.applied[ident] = digest
    return None
