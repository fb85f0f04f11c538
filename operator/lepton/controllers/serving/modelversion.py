"""One reconcile of one ModelVersion: observe (indices), decide (policies.verification), act (create
the verification Job), report (one status write, then events). Every handler funnels into it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lepton.api.modelversion import PLURAL, ModelVersion, ModelVersionPhase, ModelVersionReason
from lepton.api.times import now
from lepton.builders.serving_config import pod_annotations_of
from lepton.builders.verification import construct_verification_job, verification_job_name
from lepton.controllers.kit.events import Events, events_about
from lepton.controllers.kit.objects import ref_of
from lepton.controllers.serving.context import Serving, object_key
from lepton.controllers.serving.indices import Indices
from lepton.kube import resources
from lepton.policies.verification import TERMINAL, Verdict, decide, status_of

log = logging.getLogger("lepton.modelversion")


def modelversion_key(meta: Mapping[str, Any]) -> str:
    return object_key(PLURAL, meta)


async def reconcile_model_version(body: Mapping[str, Any], serving: Serving, indices: Indices) -> None:
    key = modelversion_key(body["metadata"])
    await serving.objects.locked(
        key,
        body,
        lambda fresh: _reconcile(ModelVersion.model_validate(dict(fresh)), key, fresh, serving, indices),
    )


async def _reconcile(
    mv: ModelVersion, key: str, body: Mapping[str, Any], serving: Serving, indices: Indices
) -> None:
    events = events_about(mv)
    previous = mv.status.phase if mv.status else None
    verdict: Verdict | None = None
    if previous not in TERMINAL:
        job, pods = indices.verification(mv.namespace, mv.metadata.uid or "")
        name = verification_job_name(mv)
        verdict = decide(mv, job, pods, name)
        if verdict.create_job:
            created = await resources.create(
                serving.kube, construct_verification_job(mv, serving.config), "jobs"
            )
            if not created:
                log.info("%s: verification Job %s exists already (not yet in the index)", key, name)
            _, problem = pod_annotations_of(mv.metadata.annotations)
            if created and problem:
                events.warning(ModelVersionReason.INVALID_ANNOTATION, problem)
    desired = status_of(mv, verdict, indices.serving(mv.namespace, mv.metadata.uid or ""), now())
    if not await serving.objects.write_status(serving.kube, ref_of(mv), key, body.get("status"), desired):
        return
    if verdict is not None and verdict.phase is not previous:
        _report(mv, previous, verdict, events)
    old_served = sorted(mv.status.served_by or []) if mv.status else []
    if desired["servedBy"] != old_served:
        events.normal(ModelVersionReason.SERVED_BY, _served_message(desired["servedBy"]))
    await events.send(serving.kube)


def _served_message(names: list[str]) -> str:
    return f"served by {', '.join(names)}" if names else "no InferenceService serves this version"


def _report(mv: ModelVersion, previous: ModelVersionPhase | None, verdict: Verdict, events: Events) -> None:
    failed = verdict.phase is ModelVersionPhase.FAILED
    (events.warning if failed else events.normal)(verdict.reason, verdict.message)
    log.info(
        "%s/%s: %s -> %s (%s) %s",
        mv.namespace,
        mv.name,
        previous.value if previous else "-",
        verdict.phase.value,
        verdict.reason,
        verdict.message,
    )
