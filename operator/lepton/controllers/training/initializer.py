"""The initializer step of one reconcile: decide (policies.initializers) and act on the job's
initializer pod; reconcile runs the state machine only when this step lets the workers start."""

from __future__ import annotations

from typing import Any

from lepton.api.common import Condition
from lepton.api.times import rfc3339_at
from lepton.api.trainingjob import TrainingJob
from lepton.builders.initializer import construct_initializer_pod, initializer_pod_name
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import Indices, created_init_pod
from lepton.kube import resources
from lepton.policies import initializers
from lepton.policies.lifecycle import JobState


def decide(
    job: TrainingJob, state: JobState, key: str, indices: Indices, now: float
) -> initializers.Decision:
    init = job.spec.initializers
    sources = {name: source.uri for name, source in init.sources().items()} if init else {}
    recorded = job.status.conditions if job.status else None
    return initializers.decide(
        state, sources, indices.init_pod(key), initialized=initializers.is_initialized(recorded), now=now
    )


async def act(job: TrainingJob, decision: initializers.Decision, training: Training, key: str) -> None:
    name = initializer_pod_name(job.name)
    if decision.delete:
        await resources.delete(training.kube, resources.Ref("v1", "pods", job.namespace, name))
    what = created_init_pod(name)
    if not decision.create or training.created.recently_created(key, what, training.clock()):
        return
    training.created.created(key, what, training.clock())
    try:
        await resources.create(training.kube, construct_initializer_pod(job), "pods")
    except BaseException:
        training.created.seen(key, what)  # not created: the next reconcile must try again
        raise


def with_condition(
    desired: dict[str, Any], decision: initializers.Decision, job: TrainingJob, now: float
) -> dict[str, Any]:
    """The desired status with the Initialized condition the decision implies."""
    if decision.condition is None:
        return desired
    current = [Condition.model_validate(c) for c in desired.get("conditions") or []]
    updated = initializers.with_condition(
        current, decision, generation=job.metadata.generation, at=rfc3339_at(now)
    )
    return {
        **desired,
        "conditions": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in updated],
    }
