"""The serving controllers' kopf indices and their typed views. ModelVersions and InferenceServices
read each other through these (an InferenceService resolves among its model's versions; a
ModelVersion's servedBy comes from the Deployments made of it), never through each other's handlers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.inferenceservice import PLURAL as INFERENCESERVICE_PLURAL
from lepton.api.inferenceservice import InferenceService
from lepton.api.modelversion import PLURAL as MODELVERSION_PLURAL
from lepton.api.modelversion import ModelVersion
from lepton.builders.inference import ISVC_LABEL, SERVER_COMPONENT
from lepton.builders.verification import COMPONENT_LABEL, MODELVERSION_UID_LABEL, VERIFY_COMPONENT
from lepton.controllers.kit.pod_start import pod_start
from lepton.controllers.serving.context import Serving
from lepton.controllers.serving.observe import (
    ServiceState,
    applied_hash_of,
    deployment_state,
    find_model_version,
    owner_key,
    parse_inference_service,
    parse_model_version,
    service_state,
    verify_job,
    verify_pod,
)
from lepton.policies.inference import DeploymentState
from lepton.policies.pod_start import PodStart
from lepton.policies.verification import VerifyJob, VerifyPod


class HasServing(Protocol):
    """The part of the operator's memo these controllers use."""

    serving: Serving


VERIFY_LABELS: Mapping[str, Any] = {
    MODELVERSION_UID_LABEL: kopf.PRESENT,
    COMPONENT_LABEL: VERIFY_COMPONENT,
}
CHILD_LABELS = {ISVC_LABEL: kopf.PRESENT}
SERVER_POD_LABELS: Mapping[str, Any] = {ISVC_LABEL: kopf.PRESENT, COMPONENT_LABEL: SERVER_COMPONENT}


@kopf.index(GROUP, VERSION, MODELVERSION_PLURAL)
async def lepton_modelversions(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, model) -> ModelVersion: resolution and lookups by name or uid go through it."""
    mv = parse_model_version(body)
    return {(mv.namespace, mv.spec.model): mv} if mv else {}


@kopf.index("batch", "v1", "jobs", labels=VERIFY_LABELS)
async def lepton_verify_jobs(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    meta = body["metadata"]
    return {(meta["namespace"], meta["labels"][MODELVERSION_UID_LABEL]): verify_job(body)}


@kopf.index("pods", labels=VERIFY_LABELS)
async def lepton_verify_pods(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    meta = body["metadata"]
    return {(meta["namespace"], meta["labels"][MODELVERSION_UID_LABEL]): verify_pod(body)}


@kopf.index(GROUP, VERSION, INFERENCESERVICE_PLURAL)
async def lepton_inferenceservices(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, model) -> InferenceService: a ModelVersion event finds the services of its model."""
    isvc = parse_inference_service(body)
    return {(isvc.namespace, isvc.spec.model.name): isvc} if isvc else {}


@kopf.index("apps", "v1", "deployments", labels=CHILD_LABELS)
async def lepton_isvc_deployments(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    key, state = owner_key(body), deployment_state(body)
    return {key: state} if key and state else {}


@kopf.index("apps", "v1", "deployments", labels=CHILD_LABELS)
async def lepton_served_by(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, ModelVersion uid) -> InferenceService name: ModelVersion status.servedBy."""
    meta = body["metadata"]
    labels = meta.get("labels") or {}
    uid = labels.get(MODELVERSION_UID_LABEL)
    return {(meta["namespace"], uid): labels[ISVC_LABEL]} if uid else {}


@kopf.index("services", labels=CHILD_LABELS)
async def lepton_isvc_services(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    key = owner_key(body)
    return {key: service_state(body)} if key else {}


@kopf.index("pods", labels=SERVER_POD_LABELS)
async def lepton_isvc_pods(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, service) -> PodStart of each model-server pod: a pod that cannot start says why
    in the service's conditions (policies.pod_start). Pod changes do not reconcile by themselves:
    the reconcile that sees a pod waiting names when to look again."""
    key = owner_key(body)
    return {key: pod_start(body)} if key else {}


@kopf.index("networking.k8s.io", "v1", "networkpolicies", labels=CHILD_LABELS)
async def lepton_isvc_networkpolicies(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, service) -> the applied hash of its NetworkPolicy (spec.networkPolicy)."""
    key = owner_key(body)
    return {key: applied_hash_of(body)} if key else {}


@dataclass(frozen=True)
class Indices:
    """The indices above, as the two reconciles read them."""

    model_versions: Mapping[Any, Any]
    """(namespace, model) -> ModelVersion"""
    verify_jobs: Mapping[Any, Any]
    """(namespace, ModelVersion uid) -> VerifyJob"""
    verify_pods: Mapping[Any, Any]
    """(namespace, ModelVersion uid) -> VerifyPod"""
    served_by: Mapping[Any, Any]
    """(namespace, ModelVersion uid) -> name of an InferenceService with a Deployment of it"""
    services_of_model: Mapping[Any, Any]
    """(namespace, model) -> InferenceService"""
    deployments: Mapping[Any, Any]
    """(namespace, service) -> DeploymentState"""
    services: Mapping[Any, Any]
    """(namespace, service) -> ServiceState"""
    network_policies: Mapping[Any, Any]
    """(namespace, service) -> applied hash of its NetworkPolicy"""
    pods: Mapping[Any, Any]
    """(namespace, service) -> PodStart of each model-server pod"""

    @classmethod
    def of(cls, kwargs: Mapping[str, Any]) -> Indices:
        """The view over the indices kopf passes to every handler."""
        return cls(
            model_versions=kwargs["lepton_modelversions"],
            verify_jobs=kwargs["lepton_verify_jobs"],
            verify_pods=kwargs["lepton_verify_pods"],
            served_by=kwargs["lepton_served_by"],
            services_of_model=kwargs["lepton_inferenceservices"],
            deployments=kwargs["lepton_isvc_deployments"],
            services=kwargs["lepton_isvc_services"],
            network_policies=kwargs["lepton_isvc_networkpolicies"],
            pods=kwargs["lepton_isvc_pods"],
        )

    def versions_of(self, namespace: str, model: str) -> list[ModelVersion]:
        return list(self.model_versions.get((namespace, model), []))

    def model_version(
        self, namespace: str, model: str, *, name: str | None = None, uid: str | None = None
    ) -> ModelVersion | None:
        return find_model_version(self.versions_of(namespace, model), name=name, uid=uid)

    def verification(self, namespace: str, uid: str) -> tuple[VerifyJob | None, list[VerifyPod]]:
        job: VerifyJob | None = next(iter(self.verify_jobs.get((namespace, uid), [])), None)
        pods: list[VerifyPod] = sorted(self.verify_pods.get((namespace, uid), []), key=lambda p: p.name)
        return job, pods

    def serving(self, namespace: str, uid: str) -> list[str]:
        """Names of the InferenceServices with a Deployment of the ModelVersion ``uid``."""
        return [str(name) for name in self.served_by.get((namespace, uid), [])]

    def services_for(self, namespace: str, model: str) -> list[InferenceService]:
        return list(self.services_of_model.get((namespace, model), []))

    def services_of(self, namespace: str, name: str) -> list[ServiceState]:
        """Every Service labelled with the service: the stable one, the per-version ones, the
        activator's backend."""
        return list(self.services.get((namespace, name), []))

    def server_pods(self, namespace: str, name: str) -> list[PodStart]:
        return list(self.pods.get((namespace, name), []))

    def network_policy(self, namespace: str, name: str) -> str | None:
        """The applied hash of the service's NetworkPolicy; None when it has none."""
        return next(iter(self.network_policies.get((namespace, name), [])), None)

    def children(
        self, namespace: str, name: str
    ) -> tuple[list[DeploymentState], DeploymentState | None, ServiceState | None]:
        """The model-server Deployments, the activator's, and the stable Service of a service."""
        found: list[DeploymentState] = list(self.deployments.get((namespace, name), []))
        activator = next((d for d in found if d.activator), None)
        stable = next((s for s in self.services_of(namespace, name) if s.name == name), None)
        return [d for d in found if not d.activator], activator, stable
