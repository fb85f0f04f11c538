"""What the integration and e2e fixtures share: a kubectl runner and a namespace per test."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from support.wait import wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def kubectl_runner(kubectl_path: str, kubeconfig: str) -> Kubectl:
    """kubectl(*args, input=None, check=True, timeout=60): text output; a failure raises with stderr."""

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> Any:
        out = subprocess.run(
            [kubectl_path, "--kubeconfig", kubeconfig, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out

    return run


@contextmanager
def fresh_namespace(kube: client.ApiClient, test_name: str, prefix: str) -> Iterator[str]:
    """A namespace named after the test, ready for pods (its default ServiceAccount exists), deleted
    afterwards with what it holds."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].rstrip("-")
    name = f"{prefix}-{slug}-{uuid.uuid4().hex[:5]}"
    core = client.CoreV1Api(kube)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
        timeout=30,
        what=f"ServiceAccount default in namespace {name}",
    )
    yield name
    try:
        core.delete_namespace(name, propagation_policy="Background")
    except client.ApiException as exc:
        if exc.status != 404:  # a test may have deleted it itself
            raise


def orphans(api: client.ApiClient, namespace: str) -> list[str]:
    """Objects in the namespace whose owner reference names an object (by uid) that does not exist."""
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    custom = client.CustomObjectsApi(api)
    owned: list[tuple[str, Any]] = []
    for kind, items in (
        ("Pod", core.list_namespaced_pod(namespace).items),
        ("Service", core.list_namespaced_service(namespace).items),
        ("Deployment", apps.list_namespaced_deployment(namespace).items),
        ("ReplicaSet", apps.list_namespaced_replica_set(namespace).items),
        ("Job", batch.list_namespaced_job(namespace).items),
    ):
        owned += [(f"{kind}/{o.metadata.name}", o) for o in items]
    uids = {o.metadata.uid for _, o in owned}
    for plural in ("trainingjobs", "modelversions", "inferenceservices"):
        listed = custom.list_namespaced_custom_object("lepton.ai", "v1alpha1", namespace, plural)["items"]
        uids |= {item["metadata"]["uid"] for item in listed}
    return [
        f"{name} -> {ref.kind}/{ref.name}"
        for name, obj in owned
        for ref in obj.metadata.owner_references or []
        if ref.uid not in uids
    ]


def table_columns(table: str) -> dict[str, str]:
    """One object's row of a `kubectl get` table, by header: kubectl starts each value under its
    header, and an empty value leaves blanks, so splitting on whitespace would shift the columns.
    Headers are apart by 3 or more spaces; one space stays inside a header ("WAITING FOR")."""
    header, row = table.splitlines()[:2]
    found = list(re.finditer(r"\S+(?: \S+)*", header))
    ends = [m.start() for m in found[1:]] + [None]
    return {m.group(): row[m.start() : end].strip() for m, end in zip(found, ends, strict=True)}
