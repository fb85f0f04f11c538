"""Helpers for the TrainingJob integration tests: manifests and reads through the real API."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import client

from support.events import event_reasons, wait_events
from support.wait import wait_for

GROUP, VERSION, PLURAL = "lepton.ai", "v1alpha1", "trainingjobs"
TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


def manifest(
    name: str,
    *,
    replicas: int = 4,
    gpus: int = 8,
    annotations: dict[str, str] | None = None,
    env: list[dict[str, str]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "trainer", "image": "lepton/trainer:test"}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": gpus}}
    if env:
        container["env"] = env
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"annotations": dict(annotations or {})},
                "spec": {"tolerations": [TOLERATION], "containers": [container]},
            },
            **spec,
        },
    }


class Jobs:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, copy.deepcopy(body)
            )
        )

    def get(self, name: str) -> dict[str, Any]:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name))

    def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            {"spec": spec},
            _content_type="application/merge-patch+json",
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def phase(self, name: str) -> str | None:
        return self.status(name).get("phase")

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        return next((c for c in self.status(name).get("conditions") or [] if c["type"] == type_), None)

    def pods(self, name: str) -> list[client.V1Pod]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"lepton.ai/job-name={name}"
        ).items
        return sorted(pods, key=lambda p: p.metadata.name)

    def live_pods(self, name: str) -> list[client.V1Pod]:
        return [p for p in self.pods(name) if p.metadata.deletion_timestamp is None]

    def events(self, name: str) -> list[str]:
        return event_reasons(self.core, self.namespace, name)

    def wait_events(self, name: str, *reasons: str, timeout: float = 15) -> list[str]:
        return wait_events(self.core, self.namespace, name, *reasons, timeout=timeout)


def env_of(pod: client.V1Pod) -> dict[str, str]:
    trainer = next(c for c in pod.spec.containers if c.name == "trainer")
    return {e.name: e.value for e in trainer.env or []}


def gpu_pods(core: client.CoreV1Api) -> list[str]:
    """Pods holding GPUs anywhere (earlier tests' namespaces may still be going away)."""
    pods = core.list_pod_for_all_namespaces(
        field_selector="status.phase!=Succeeded,status.phase!=Failed"
    ).items
    return [
        f"{p.metadata.namespace}/{p.metadata.name}"
        for p in pods
        if any("nvidia.com/gpu" in ((c.resources and c.resources.limits) or {}) for c in p.spec.containers)
    ]


def left_by_earlier_tests(core: client.CoreV1Api, namespace: str) -> list[str]:
    """GPU pods anywhere and unfinished TrainingJobs outside ``namespace``: an earlier test's job whose
    namespace is going away may have lost its pods before the namespace controller deletes it, and
    admission counts the workers such a job still needs as demand on the nodes best fit places them
    on (a finished job needs none)."""
    custom = client.CustomObjectsApi(core.api_client)
    jobs = custom.list_cluster_custom_object("lepton.ai", "v1alpha1", "trainingjobs")["items"]
    return gpu_pods(core) + [
        f"trainingjob {j['metadata']['namespace']}/{j['metadata']['name']}"
        for j in jobs
        if j["metadata"]["namespace"] != namespace
        and j.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]


def queued_with(jobs: Jobs, name: str, reason: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (c := jobs.condition(name, "Queued")) and c["status"] == "True" and c["reason"] == reason and c
        ),
        30,
        f"{name} Queued with reason {reason}",
        seen=lambda: jobs.status(name),
    )


def finishing(after: str) -> dict[str, str]:
    return {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": after}


def on_nodes(body: dict[str, Any], **selector: str) -> dict[str, Any]:
    body["spec"]["template"]["spec"]["nodeSelector"] = selector
    return body


def block(
    jobs: Jobs, node: str, gpus: int, annotations: dict[str, str] | None = None, **run_policy: Any
) -> str:
    """A job pinned to ``node`` holding ``gpus`` there (without ``annotations`` it never exits: it
    runs until its deadline or the test's namespace goes)."""
    name = f"block-{node.rsplit('-', 1)[1]}"
    body = manifest(name, replicas=1, gpus=gpus, annotations=annotations)
    body = on_nodes(body, **{"kubernetes.io/hostname": node})
    if run_policy:
        body["spec"]["runPolicy"] = run_policy
    jobs.create(body)
    return name


def node_of(jobs: Jobs, name: str) -> client.V1Pod:
    return wait_for(
        lambda: next((p for p in jobs.pods(name) if p.spec.node_name), None),
        30,
        f"the pod of {name} bound",
        seen=lambda: [(p.metadata.name, p.status.phase) for p in jobs.pods(name)],
    )


def other_workload(core: client.CoreV1Api, namespace: str, node: str, gpus: int) -> None:
    """A plain pod of another workload holding ``gpus`` GPUs of ``node`` and 80 of its 96 CPUs, so
    kube-scheduler's default scoring (least allocated CPU and memory) clearly prefers other nodes."""
    pod = {
        "metadata": {"name": "other-workload"},
        "spec": {
            "nodeName": node,
            "tolerations": [TOLERATION],
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}, "requests": {"cpu": "80"}},
                }
            ],
        },
    }
    core.create_namespaced_pod(namespace, pod)
