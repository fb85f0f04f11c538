"""Through zero replicas and back: whether an InferenceService that may scale to zero needs its
activator, where its stable Service sends requests, and whether it is activating (replicas asked
for, none ready yet, requests held by the activator).

The activator is in the request path exactly while no replica is ready: at zero replicas, and after
a replica was asked for until one is Ready. It stays up (out of the path) until the stable Service is
seen selecting the model servers again, so no request lands on a Service with no endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lepton.api.inferenceservice import InferenceServicePhase, InferenceServiceReason
from lepton.policies.inference import Assessment, ConditionValue


@dataclass(frozen=True)
class Activation:
    activator: bool = False
    """The activator Deployment is wanted."""
    to_activator: bool = False
    """The stable Service selects the activator."""
    backend_version: str | None = None
    """The version the backend Service (where the activator forwards) selects; None: no backend."""
    activating: bool = False
    """Replicas asked for, none ready yet: requests wait in the activator."""
    hold: bool = False
    """Going to zero, but the Service is not yet seen selecting a ready activator: the servers keep
    running until it is, so there is never a moment without an endpoint."""


def activation(
    *,
    scale_to_zero: bool,
    replicas: int,
    version: str | None,
    ready: int,
    routed_to_activator: bool,
    activator_ready: bool = False,
) -> Activation:
    """``replicas`` the service is to run, ``ready`` of them Ready, ``version`` the serving one,
    whether its stable Service is observed selecting the activator, and whether the activator answers
    (make before break: the Service moves to the activator only once it is Ready)."""
    if not scale_to_zero or version is None:
        return Activation()
    if replicas == 0 and not routed_to_activator:
        # Make before break: the servers stay until the Service is seen selecting the activator,
        # which it does once the activator answers; they keep answering while kube-proxy catches up.
        return Activation(activator=True, to_activator=activator_ready, backend_version=version, hold=True)
    if replicas == 0:
        return Activation(activator=True, to_activator=True, backend_version=version)
    if ready == 0 and routed_to_activator:
        return Activation(activator=True, to_activator=True, backend_version=version, activating=True)
    # A replica is Ready: the stable Service goes back to it; the activator waits until that is seen.
    return Activation(activator=routed_to_activator, backend_version=version)


def assessed(assessment: Assessment, state: Activation) -> Assessment:
    """The assessment while activating: not ready, and not degraded either (requests are held)."""
    if not state.activating:
        return assessment
    waiting = "scaled up from zero: the activator holds requests until a replica is ready"
    return replace(
        assessment,
        phase=InferenceServicePhase.ACTIVATING,
        ready=ConditionValue(False, InferenceServiceReason.ACTIVATING, waiting),
        degraded=ConditionValue(False, InferenceServiceReason.ACTIVATING, waiting),
    )
