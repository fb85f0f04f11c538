"""The set-up the Traefik rollout modules share (test_rollout_traefik.py, test_rollout_mirror_traefik.py):
Traefik on the host with a programmed Gateway, the operator on
the host, the first version served through the Gateway; and reads of the objects they assert on."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client
from traefikkit import MODEL, GatewayLoad, model_version, storage, write_artifact

import gatewayapi as gateway
from localcluster.config import Config
from support.kube import Kubectl
from support.operator import Operator, running_operator
from support.paths import CRDS_DIR
from support.ports import free_port
from support.wait import wait_for

GATEWAY = "public"


def start_traefik(
    cfg: Config, kubectl: Kubectl, kube: client.ApiClient, ns: str, crd_provider: bool = False
) -> str:
    """Traefik on the host and Gateway `public` in ``ns``, programmed; its listener's URL. Stop it
    with gatewayapi.down."""

    def run(*args: str, stdin: str | None = None) -> str:
        return str(kubectl(*args, input=stdin).stdout)

    began = time.monotonic()
    gateway.up(cfg, run, crd_provider=crd_provider)
    objects = gateway.gateway_objects(cfg, GATEWAY, ns)
    run("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    api = client.CustomObjectsApi(kube)

    def found() -> dict[str, Any]:
        return dict(api.get_namespaced_custom_object(gateway.GATEWAY_GROUP, "v1", ns, "gateways", GATEWAY))

    wait_for(lambda: gateway.programmed(found()), 60, f"Traefik to program Gateway {GATEWAY}",
             seen=lambda: found().get("status"))  # fmt: skip
    print(f"\nTraefik up and Gateway programmed in {time.monotonic() - began:.1f}s")
    return gateway.url(cfg)


def operator_env(cfg: Config) -> dict[str, str]:
    """The operator on the host, for model servers and verification pods on the real node."""
    activation = free_port()
    return {
        # Activators (pods on the bridge) ask the operator, on the host, for a replica.
        "LEPTON_ACTIVATION_HOST": cfg.bridge_ip,
        "LEPTON_ACTIVATION_PORT": str(activation),
        "LEPTON_ACTIVATION_URL": f"http://{cfg.bridge_ip}:{activation}/activate",
        "LEPTON_PROMETHEUS_URL": cfg.prometheus_url,
        "LEPTON_CLUSTER_DOMAIN": "cluster.local",
        "LEPTON_VERIFY_NODE_SELECTOR": json.dumps({"lepton.ai/node-kind": "real"}),
        "LEPTON_VERIFY_TOLERATIONS": json.dumps(
            [{"key": "lepton.ai/real-node", "operator": "Exists", "effect": "NoSchedule"}]
        ),
    }


@contextmanager
def host_operator(cfg: Config, kubectl: Kubectl, log: Path) -> Iterator[Operator]:
    """The CRDs of this checkout installed, and the operator running on the host."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))
    # `kubectl wait` fails at once on a CRD the API server has not given conditions yet: ask again.
    established = ("wait", "--for=condition=Established", "--timeout=30s", "-f", str(CRDS_DIR))
    wait_for(lambda: kubectl(*established, check=False).returncode == 0, 60, "the CRDs Established",
             seen=lambda: kubectl(*established, check=False).stderr)  # fmt: skip
    with running_operator(str(cfg.kubeconfig), log, operator_env(cfg)) as op:
        yield op


def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


def lisvc(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    return dict(
        custom(kube).get_namespaced_custom_object("lepton.ai", "v1alpha1", ns, "inferenceservices", MODEL)
    )


def canary(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    return dict((lisvc(kube, ns).get("status") or {}).get("canary") or {})


def route(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    return dict(
        custom(kube).get_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "httproutes", MODEL)
    )


def backends(kube: client.ApiClient, ns: str) -> dict[str, int]:
    """The route's backends by name without the service's prefix (`v1`, `mirror`) -> weight."""
    try:
        [rule] = route(kube, ns)["spec"]["rules"]
    except client.ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    return {ref["name"].removeprefix(f"{MODEL}-"): ref["weight"] for ref in rule["backendRefs"]}


def accepted(found: dict[str, Any]) -> bool:
    """Whether the Gateway (Traefik) accepted the route for its parent and resolved its backends."""
    parents = (found.get("status") or {}).get("parents") or []
    wanted = {"Accepted", "ResolvedRefs"}
    return any(
        wanted <= {c["type"] for c in p.get("conditions") or [] if c.get("status") == "True"} for p in parents
    )


def set_version(kube: client.ApiClient, ns: str, version: str) -> None:
    custom(kube).patch_namespaced_custom_object(
        "lepton.ai", "v1alpha1", ns, "inferenceservices", MODEL, {"spec": {"model": {"version": version}}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip


def serve_first(
    cfg: Config, kube: client.ApiClient, kubectl: Kubectl, ns: str, url: str, versions: dict[str, bool],
    body: dict[str, Any],
) -> None:  # fmt: skip
    """Every version's artifact (good or bad) and ModelVersion, verified on the real node; then the
    InferenceService ``body`` (its first version) answering through the Gateway."""
    models = cfg.state_dir / ns / "models"
    models.mkdir(parents=True)
    os.chown(models, 1000, 1000)
    digests = {version: write_artifact(models, version, good) for version, good in versions.items()}
    objects = [*storage(models, ns), *(model_version(v, d) for v, d in digests.items())]
    kubectl(
        "apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )
    api = custom(kube)

    def verified() -> list[str]:
        found = api.list_namespaced_custom_object("lepton.ai", "v1alpha1", ns, "modelversions")["items"]
        return [m["metadata"]["name"] for m in found if (m.get("status") or {}).get("phase") == "Ready"]

    wait_for(lambda: len(verified()) == len(versions), 300, "every ModelVersion verified on the real node",
             seen=verified)  # fmt: skip
    api.create_namespaced_custom_object("lepton.ai", "v1alpha1", ns, "inferenceservices", body)
    first = body["spec"]["model"]["version"]
    wait_for(
        lambda: backends(kube, ns) == {first: 100} and accepted(route(kube, ns)), 240,
        f"the HTTPRoute to {first}, accepted by Traefik",
        seen=lambda: (route(kube, ns).get("status"), lisvc(kube, ns).get("status")),
    )  # fmt: skip
    with GatewayLoad(url, body["spec"]["traffic"]["hostnames"][0], per_second=5) as probe:
        wait_for(lambda: probe.versions().get(first, 0) >= 3, 120, f"{first} to answer through Traefik",
                 seen=lambda: probe.answers[-3:])  # fmt: skip
