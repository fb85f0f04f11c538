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
