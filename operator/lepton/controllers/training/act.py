"""The act step of a TrainingJob's reconcile (controllers.training.reconcile): delete and create
what the plan says, its workers, their headless Service and a gang scheduler's PodGroup."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lepton.api.trainingjob import TrainingJob
from lepton.builders.podgroup import construct_pod_group, gang_scheduler
from lepton.builders.workers import construct_service, construct_worker_pod
from lepton.controllers.kit.owners import foreign_holder
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import created_pod
from lepton.kube import resources
from lepton.kube.errors import KubeError
from lepton.policies import lifecycle

log = logging.getLogger("lepton.trainingjob")

# After the API server refused a create because the namespace is being deleted, no pod or Service
# is created in it for this long (Training.terminating).
TERMINATING_HOLD_S = 60.0


async def act(
    job: TrainingJob,
    plan: lifecycle.Plan,
    versions: dict[str, str | None],
    training: Training,
    avoid_nodes: tuple[str, ...],
) -> int:
    """Delete and create what the plan says; how many of the workers it creates exist now (created,
    or there already): none when the API server refused one for good. ``versions``: each worker's
    resourceVersion as last seen (a worker is unpinned only as it was then)."""
    kube = training.kube
    deletions = [
        *(resources.delete(kube, resources.Ref("v1", "pods", job.namespace, name)) for name in plan.delete),
        # Only as last seen, unbound: one kube-scheduler bound meanwhile is a worker to keep.
        *(
            resources.delete(
                kube, resources.Ref("v1", "pods", job.namespace, name), version=versions.get(name)
            )
            for name in plan.unpin
        ),
        *(
            resources.delete(kube, resources.Ref("v1", "pods", job.namespace, name), grace_seconds=0)
            for name in plan.force_delete
        ),
    ]
    if deletions:
        await asyncio.gather(*deletions)
    if not plan.create:
        return 0
    key, created, now = f"{job.namespace}/{job.name}", training.created, training.clock()
    if training.creates_held(job.namespace):
        return 0
    pod_group = await _ensure_pod_group(job, training)
    avoid = sorted({*avoid_nodes, *plan.avoid})
    pods = [
        pod
        for pod in (
            construct_worker_pod(
                job,
                i,
                plan.attempt,
                pod_group=pod_group,
                avoid_nodes=avoid,
                place_on=plan.place_on[i] if i < len(plan.place_on) else None,
            )
            for i in plan.create
        )
        if not created.recently_created(key, created_pod(pod["metadata"]["name"], plan.attempt), now)
    ]
    # The Service only gives the workers their DNS names, which they look up once they run: it
    # goes out with the pods, not before them, so a burst of admissions does not queue every
    # job's pods behind every job's Service.
    creations = [
        _create(training, key, created_pod(p["metadata"]["name"], plan.attempt), p, "pods") for p in pods
    ]
    service = f"service/{job.metadata.uid}"
    if not created.recently_created(key, service, now):
        creations.append(_create_service(training, key, service, job))
    await asyncio.gather(*creations)
    refused = key in training.refused or training.creates_held(job.namespace)
    return 0 if refused else len(plan.create)


async def _create_service(training: Training, key: str, what: str, job: TrainingJob) -> bool:
    """Create the headless Service; when its name is taken by something the job does not own (an
    InferenceService's Service, a user's), the workers would get no DNS names: remember why, so the
    next reconcile fails the job with that message instead of letting its rendezvous hang."""
    if await _create(training, key, what, construct_service(job), "services"):
        return True
    if training.creates_held(job.namespace):
        return False  # refused as the namespace goes: no Service of anyone else's to look for
    existing = await resources.get(training.kube, resources.Ref("v1", "services", job.namespace, job.name))
    holder = foreign_holder(existing, job.metadata.uid)
    if holder is None:
        return False
    training.conflicts[key] = (
        f"Service {job.name} exists and is not this TrainingJob's (owner: {holder}), so the workers "
        "would get no DNS names; rename the TrainingJob or remove that Service"
    )
    training.wakeups.kick(key)
    return False


async def _create(training: Training, key: str, what: str, body: dict[str, Any], plural: str) -> bool:
    """Create ``body``; False when an object of its name exists already, or when the API server
    refused it for good: then the next reconcile fails the job with the API server's message
    (ConfigError) instead of asking again every few seconds for what cannot succeed."""
    # Noted before the request: the watch may deliver the new pod before the request returns.
    training.created.created(key, what, training.clock())
    try:
        return await resources.create(training.kube, body, plural)
    except KubeError as exc:
        training.created.seen(key, what)  # not created: the next reconcile must try again
        if exc.namespace_terminating:
            training.terminating[key.partition("/")[0]] = training.clock() + TERMINATING_HOLD_S
            return False
        if not exc.config_error:
            raise
        log.warning("%s: the API server refused %s %s: %s", key, plural, body["metadata"]["name"], exc)
        training.refused.setdefault(key, exc.message)
        training.wakeups.kick(key)
        return False
    except BaseException:
        training.created.seen(key, what)
        raise


async def _ensure_pod_group(job: TrainingJob, training: Training) -> str | None:
    scheduler = gang_scheduler(job)
    if scheduler is None:
        return None
    kind = scheduler.value
    if not await training.discovery.served(kind.group, kind.version, kind.plural):
        return None
    await resources.create(training.kube, construct_pod_group(job, scheduler), kind.plural)
    return job.name
