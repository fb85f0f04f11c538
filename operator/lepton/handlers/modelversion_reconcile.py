"""One reconcile of one ModelVersion: observe (indices), decide (policies.verification), act (create
the verification Job), report (one status write, then events). Every handler funnels into it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lepton.api.common import API_VERSION, now
from lepton.api.modelversion import PLURAL, ModelVersion, ModelVersionPhase
from lepton.builders.serving_config import pod_annotations_of
from lepton.builders.verification import construct_verification_job, verification_job_name
from lepton.handlers.serving_runtime import object_key, runtime_of
from lepton.kube import resources
from lepton.policies.verification import TERMINAL, Verdict, VerifyJob, VerifyPod, decide, status_of

if TYPE_CHECKING:
    from lepton.operator import Memo

log = logging.getLogger("lepton.modelversion")


@dataclass(frozen=True)
class ModelVersionIndices:
    """The kopf indices the ModelVersion controller reads (see handlers.modelversion)."""

    jobs: Mapping[Any, Any]
    """(namespace, ModelVersion uid) -> VerifyJob"""
    pods: Mapping[Any, Any]
    """(namespace, ModelVersion uid) -> VerifyPod"""
    served_by: Mapping[Any, Any]
    """(namespace, ModelVersion uid) -> name of an InferenceService with a Deployment of it"""


def runtime_key(meta: Mapping[str, Any]) -> str:
    return object_key(PLURAL, meta)


def _ref(mv: ModelVersion) -> resources.Ref:
    return resources.Ref(API_VERSION, PLURAL, mv.namespace, mv.name)


async def reconcile_model_version(body: Mapping[str, Any], memo: Memo, indices: ModelVersionIndices) -> None:
    key = runtime_key(body["metadata"])

    async def run(fresh: Mapping[str, Any]) -> None:
        await _reconcile(ModelVersion.model_validate(dict(fresh)), key, fresh, memo, indices)

    await runtime_of(memo).reconcile_locked(key, body, run)


async def _reconcile(
    mv: ModelVersion, key: str, body: Mapping[str, Any], memo: Memo, indices: ModelVersionIndices
) -> None:
    runtime = runtime_of(memo)
    ident = (mv.namespace, mv.metadata.uid)
    previous = mv.status.phase if mv.status else None
    verdict: Verdict | None = None
    if previous not in TERMINAL:
        job: VerifyJob | None = next(iter(indices.jobs.get(ident, [])), None)
        pods: list[VerifyPod] = sorted(indices.pods.get(ident, []), key=lambda p: p.name)
        name = verification_job_name(mv)
        verdict = decide(mv, job, pods, name)
        if verdict.create_job:
            created = await resources.create(
                memo.kube, construct_verification_job(mv, runtime.config), "jobs"
            )
            if not created:
                log.info("%s: verification Job %s exists already (not yet in the index)", key, name)
            _, problem = pod_annotations_of(mv.metadata.annotations)
            if created and problem:
                await _event(mv, "Warning", "InvalidAnnotation", problem, memo)
    served_by = [str(name) for name in indices.served_by.get(ident, [])]
    desired = status_of(mv, verdict, served_by, now())
    await runtime.write_status(memo.kube, _ref(mv), key, body.get("status"), desired)
    if verdict is not None and verdict.phase is not previous:
        await _report(mv, previous, verdict, memo)
    old_served = sorted(mv.status.served_by or []) if mv.status else []
    if desired["servedBy"] != old_served:
        await _event(mv, "Normal", "ServedBy", _served_message(desired["servedBy"]), memo)


def _served_message(names: list[str]) -> str:
    return f"served by {', '.join(names)}" if names else "no InferenceService serves this version"


async def _report(mv: ModelVersion, previous: ModelVersionPhase | None, verdict: Verdict, memo: Memo) -> None:
    event_type = "Warning" if verdict.phase is ModelVersionPhase.FAILED else "Normal"
    await _event(mv, event_type, verdict.reason, verdict.message, memo)
    log.info(
        "%s/%s: %s -> %s (%s) %s",
        mv.namespace,
        mv.name,
        previous.value if previous else "-",
        verdict.phase.value,
        verdict.reason,
        verdict.message,
    )


async def _event(mv: ModelVersion, event_type: str, reason: str, message: str, memo: Memo) -> None:
    involved = {
        "apiVersion": API_VERSION,
        "kind": "ModelVersion",
        "name": mv.name,
        "namespace": mv.namespace,
        "uid": mv.metadata.uid,
    }
    await resources.post_event(memo.kube, involved, event_type, reason, message)
