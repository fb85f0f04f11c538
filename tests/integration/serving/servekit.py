"""Helpers for the serving integration tests: manifests and reads through the real API."""

from __future__ import annotations

import copy
import json
from typing import Any

from kubernetes import client

from support.events import wait_events
from support.wait import wait_for

GROUP, VERSION = "lepton.ai", "v1alpha1"
DIGEST = "sha256:" + "ab" * 32
# One OIP v2 request for the "iris" model of the model_server fixture (16 features).
INPUT = {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [0.0] * 16}]}
FAILURE = '{"verified": false, "reason": "digest mismatch: expected sha256:00, the artifact has sha256:ff"}'


def model_version(
    model: str, version: str, *, exit_code: int | None = None, message: str | None = None, after: str = ""
) -> dict[str, Any]:
    """A ModelVersion; ``exit_code`` makes its simulated verification pod exit with it. The
    simulation hooks reach the pod through lepton.ai/pod-annotations, whatever operator (with
    whatever settings) reconciles it."""
    hooks: dict[str, str] = {}
    if exit_code is not None:
        hooks["sim.lepton.ai/exit-code"] = str(exit_code)
    if message is not None:
        hooks["sim.lepton.ai/termination-message"] = message
    if after:
        hooks["sim.lepton.ai/exit-after"] = after
    annotations = {"lepton.ai/pod-annotations": json.dumps(hooks)} if hooks else {}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": f"{model}-{version}", "annotations": annotations},
        "spec": {
            "model": model,
            "version": version,
            "source": {
                "uri": f"file:///models/{model}/{version}",
                "format": "torch-export",
                "digest": DIGEST,
            },
        },
    }


def inference_service(
    name: str,
    model: str,
    version: str = "latest",
    *,
    replicas: int = 1,
    promote: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """``promote``: the version whose canary rollout is promoted at once (lepton.ai/promote), for
    tests of what happens around a version change rather than of its analysis."""
    metadata: dict[str, Any] = {"name": name}
    if promote is not None:
        metadata["annotations"] = {"lepton.ai/promote": promote}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {
            "model": {"name": model, "version": version},
            "replicas": replicas,
            "server": {"image": "lepton/server:test", "batching": {"maxBatchSize": 16, "maxLatencyMs": 4}},
            **spec,
        },
    }


class Serving:
    """Reads and writes of Lepton objects and their children in one namespace."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.namespace = namespace

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        plural = body["kind"].lower() + "s"
        return dict(
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, copy.deepcopy(body)
            )
        )

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name))

    def status(self, plural: str, name: str) -> dict[str, Any]:
        return dict(self.get(plural, name).get("status") or {})

    def patch_spec(self, plural: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            plural,
            name,
            {"spec": spec},
            _content_type="application/merge-patch+json",
        )

    def delete(self, plural: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def exists(self, plural: str, name: str) -> bool:
        try:
            self.get(plural, name)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def condition(self, plural: str, name: str, type_: str) -> dict[str, Any]:
        conditions = self.status(plural, name).get("conditions") or []
        return next((c for c in conditions if c["type"] == type_), {})

    def deployment_names(self) -> list[str]:
        return sorted(d.metadata.name for d in self.apps.list_namespaced_deployment(self.namespace).items)

    def events(self, name: str) -> list[tuple[str, str, str]]:
        items = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        ).items
        return [(e.type, e.reason, e.message) for e in items]

    def wait_events(self, name: str, *reasons: str, timeout: float = 15) -> list[str]:
        return wait_events(self.core, self.namespace, name, *reasons, timeout=timeout)

    def wait_phase(self, plural: str, name: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: (s := self.status(plural, name)).get("phase") == phase and s,
            timeout=timeout,
            what=f"{plural}/{name} phase {phase}",
            seen=lambda: self.status(plural, name),
        )

    def wait_condition(
        self, plural: str, name: str, type_: str, status: str, timeout: float = 30
    ) -> dict[str, Any]:
        """The condition ``type_`` once it has ``status``."""
        return wait_for(
            lambda: (c := self.condition(plural, name, type_)).get("status") == status and c,
            timeout=timeout,
            what=f"{plural}/{name} condition {type_}={status}",
            seen=lambda: self.status(plural, name),
        )

    def ready_version(self, model: str, version: str, timeout: float = 30) -> dict[str, Any]:
        self.create(model_version(model, version))
        return self.wait_phase("modelversions", f"{model}-{version}", "Ready", timeout)
