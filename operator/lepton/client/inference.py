"""`lepton.client.InferenceService`: the API model (lepton.api.InferenceService) with `predict`,
`scale` and rollout control. Requests go through `endpoint.Endpoint` (see there for the route)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import PrivateAttr

from lepton import api
from lepton.client import oip
from lepton.client.cluster import Cluster, connect
from lepton.client.endpoint import Endpoint
from lepton.client.kinds import INFERENCE_SERVICE
from lepton.client.rollout import annotation_patch, target_version
from lepton.client.training import Bound


class InferenceService(Bound, api.InferenceService):
    """An InferenceService (every field of lepton.api.InferenceService) with the client's verbs."""

    _cluster: Cluster | None = PrivateAttr(default=None)

    @classmethod
    def get(
        cls, name: str, *, namespace: str | None = None, cluster: Cluster | None = None
    ) -> InferenceService:
        cluster = cluster or connect(namespace=namespace)
        return cls.model_validate(cluster.get(INFERENCE_SERVICE, name)).bind(cluster)

    def endpoint(self, url: str | None = None, token: str | None = None) -> Endpoint:
        return Endpoint(
            self.spec.model.name,
            url=url,
            cluster=None if url else self.cluster,
            service=self.name,
            token=token,
        )

    def predict(
        self, inputs: oip.Array | Mapping[str, oip.Array], *, url: str | None = None, token: str | None = None
    ) -> dict[str, oip.Array]:
        """Outputs (name -> array) of the served model for ``inputs`` (one array or named arrays)."""
        return oip.outputs(self.endpoint(url, token).infer(inputs))

    def scale(self, replicas: int) -> Self:
        self.cluster.patch(
            INFERENCE_SERVICE, self.name, {"spec": {"replicas": replicas}}, subresource="scale"
        )
        return self.refresh()

    def rollout(self, action: str, version: str | None = None) -> Self:
        """promote / abort / retry: annotate the service with the version the rollout controller
        acts on (default: the canary's version)."""
        version = version or target_version(self.cluster.get(INFERENCE_SERVICE, self.name), action)
        self.cluster.patch(INFERENCE_SERVICE, self.name, annotation_patch(action, version))
        return self.refresh()

    def refresh(self) -> Self:
        fresh = type(self).model_validate(self.cluster.get(INFERENCE_SERVICE, self.name))
        self.metadata, self.spec, self.status = fresh.metadata, fresh.spec, fresh.status
        return self
