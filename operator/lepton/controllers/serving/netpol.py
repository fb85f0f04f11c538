"""spec.networkPolicy's part of the InferenceService reconcile: the NetworkPolicy
(builders/networkpolicy.py) is server-side applied when its content changed or it is missing, and
deleted once spec.networkPolicy goes or is disabled. It is acted on before the Deployments, so that
servers of a service that asks for isolation never run without it. Observed through the kopf index
of the services' NetworkPolicies (a policy deleted by hand is put back on the event)."""

from __future__ import annotations

import logging

from lepton.api.inferenceservice import InferenceService, InferenceServiceReason
from lepton.builders.inference import APPLIED_HASH
from lepton.builders.networkpolicy import construct_network_policy, network_policy_wanted
from lepton.controllers.kit.owners import foreign_holder
from lepton.controllers.serving.context import Serving
from lepton.controllers.serving.zero import apply_refusable
from lepton.kube import resources
from lepton.policies.inference import needs_apply

log = logging.getLogger("lepton.inferenceservice")

NETWORKPOLICIES = "networkpolicies"
API_VERSION = "networking.k8s.io/v1"


async def act_network_policy(
    isvc: InferenceService, serving: Serving, observed_hash: str | None
) -> tuple[InferenceServiceReason, str] | None:
    """Apply or delete the service's NetworkPolicy; why the service is blocked when it cannot be
    applied (a foreign policy holds the name; the API server refused it)."""
    ns, name = isvc.namespace, isvc.name
    ident = f"{ns}/{NETWORKPOLICIES}/{name}"
    ref = resources.Ref(API_VERSION, NETWORKPOLICIES, ns, name)
    if not network_policy_wanted(isvc):
        if observed_hash is not None and await resources.delete(serving.kube, ref):
            log.info("%s/%s: NetworkPolicy deleted: spec.networkPolicy is unset or disabled", ns, name)
        serving.applied.pop(ident, None)
        return None
    body = construct_network_policy(isvc)
    digest = body["metadata"]["annotations"][APPLIED_HASH]
    if not needs_apply(digest, observed_hash, serving.applied.get(ident)):
        return None
    if observed_hash is None:
        holder = foreign_holder(await resources.get(serving.kube, ref), isvc.metadata.uid)
        if holder is not None:
            return InferenceServiceReason.NETWORK_POLICY_CONFLICT, (
                f"NetworkPolicy {name} exists and is not this InferenceService's (owner: {holder}); "
                "rename the InferenceService or remove that NetworkPolicy"
            )
    if refused := await apply_refusable(serving, ident, digest, body, NETWORKPOLICIES):
        return InferenceServiceReason.CONFIG_ERROR, refused
    return None
