"""Gateway API on the local cluster without an implementation: its standard CRDs at the release
Traefik v3.6 is built against (and Traefik's TraefikService CRD where a test needs it), GatewayClasses
whose status.supportedFeatures the test writes as an implementation would, a Gateway, and reads of
the HTTPRoute the operator makes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

import gatewayapi
from localcluster.procs import ClusterError
from support.kube import Kubectl
from support.wait import wait_for

GATEWAY_API = "sigs.k8s.io/gateway-api@v1.4.0"
GROUP = "gateway.networking.k8s.io"


def gateway_crd_dir() -> Path:
    """The standard CRDs inside the Gateway API module (the release Traefik v3.6 is built against)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", GATEWAY_API],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "GOFLAGS": "-mod=mod"},
    )
    if out.returncode != 0:
        pytest.skip(f"cannot download {GATEWAY_API}: {out.stderr.strip() or out.stdout.strip()}")
    return Path(json.loads(out.stdout)["Dir"]) / "config" / "crd" / "standard"


def traefik_service_crd() -> dict[str, Any]:
    """Traefik's TraefikService CRD, from the Traefik source in the Go module cache."""
    try:
        path = gatewayapi.traefik_crd_file()
    except ClusterError as exc:
        pytest.skip(str(exc))
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return next(d for d in docs if d["metadata"]["name"] == "traefikservices.traefik.io")


@contextmanager
def gateway_api(kubectl: Kubectl, traefik_services: bool = False) -> Iterator[None]:
    """Gateway API's CRDs (and TraefikService's) for one module only: the other rollout tests need a
    cluster without them."""
    directory = gateway_crd_dir()
    kubectl("apply", "--server-side", "-f", str(directory))
    extra = json.dumps(traefik_service_crd()) if traefik_services else None
    if extra:
        kubectl("apply", "--server-side", "-f", "-", input=extra)
    wait_for(
        lambda: "httproutes" in kubectl("api-resources", "--api-group=gateway.networking.k8s.io").stdout,
        60,
        "HTTPRoute served",
    )
    try:
        yield
    finally:
        if extra:
            kubectl("delete", "-f", "-", input=extra, check=False, timeout=120)
        kubectl("delete", "-f", str(directory), "--wait=true", check=False, timeout=120)


def gateway(kubectl: Kubectl, namespace: str, cls: str, controller: str, features: list[str] | None) -> None:
    """GatewayClass ``cls`` of ``controller`` that says it implements ``features`` (None: says
    nothing), and Gateway `public` of that class in ``namespace``."""
    objects = [
        {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": cls},
         "spec": {"controllerName": controller}},
        {"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
         "metadata": {"name": "public", "namespace": namespace},
         "spec": {"gatewayClassName": cls, "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}]}},
    ]  # fmt: skip
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    if features is not None:
        status = {"status": {"supportedFeatures": [{"name": f} for f in sorted(features)]}}
        kubectl(
            "patch", "gatewayclass", cls, "--subresource=status", "--type=merge", "-p", json.dumps(status)
        )


def route(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(
            client.CustomObjectsApi(kube).get_namespaced_custom_object(
                GROUP, "v1", namespace, "httproutes", name
            )
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def weights(found: dict[str, Any] | None) -> dict[str, int]:
    """Backend name -> weight of the route's one rule."""
    if found is None:
        return {}
    [rule] = found["spec"]["rules"]
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
