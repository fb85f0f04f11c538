"""spec.auth naming a Secret that does not exist, on the real node: the kubelet cannot mount it and the
server pod waits in ContainerCreating; within a bound the service's Ready condition names the Secret
(read from the kubelet's own FailedMount Event). Once the Secret is created the pod starts by itself,
the condition clears, and the server answers 200 with the token and 401 without. The time from apply
to the condition naming the Secret is printed (-s) for the README."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2ekit import REAL_NODE_SELECTOR, REAL_NODE_TOLERATION
from kubernetes import client
from traefikkit import INPUT, MODEL, model_version, real_node_server, storage, write_artifact

from localcluster.config import Config
from support.kube import Kubectl
from support.operator import Operator, running_operator
from support.paths import CRDS_DIR
from support.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SECRET = "api-token"
# The first look comes STALL_SECONDS after the pod is bound; the kubelet's first FailedMount within
# a second or two of that. Generous for a loaded machine.
NAMED_WITHIN = 60


@pytest.fixture(scope="module")
def operator(
    e2e_cluster: Config, kubectl: Kubectl, no_local_operator: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS_DIR))
    env = {
        "LEPTON_CLUSTER_DOMAIN": "cluster.local",
        "LEPTON_VERIFY_NODE_SELECTOR": json.dumps(REAL_NODE_SELECTOR),
        "LEPTON_VERIFY_TOLERATIONS": json.dumps([REAL_NODE_TOLERATION]),
    }
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with running_operator(str(e2e_cluster.kubeconfig), log, env) as op:
        yield op


def guarded_service() -> dict[str, Any]:
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": MODEL},
        "spec": {
            "model": {"name": MODEL, "version": "v1"},
            "replicas": 1,
            "auth": {"tokenSecrets": [{"name": SECRET, "key": "token"}]},
            "server": real_node_server(),
        },
    }


def test_missing_token_secret_is_named_then_created_and_the_service_answers_only_with_it(
    e2e_cluster: Config,
    kube: client.ApiClient,
    kubectl: Kubectl,
    namespace: str,
    server_image: None,
    operator: Operator,
) -> None:
    custom, core = client.CustomObjectsApi(kube), client.CoreV1Api(kube)
    models = e2e_cluster.state_dir / namespace / "models"
    models.mkdir(parents=True)
    os.chown(models, 1000, 1000)
    digest = write_artifact(models, "v1", True)
    objects = [*storage(models, namespace), model_version("v1", digest)]
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )

    def version_phase() -> str | None:
        mv = custom.get_namespaced_custom_object(
            "lepton.ai", "v1alpha1", namespace, "modelversions", f"{MODEL}-v1"
        )
        return (mv.get("status") or {}).get("phase")

    wait_for(
        lambda: version_phase() == "Ready",
        300,
        "the ModelVersion verified on the real node",
        seen=version_phase,
    )

    def status() -> dict[str, Any]:
        isvc = custom.get_namespaced_custom_object(
            "lepton.ai", "v1alpha1", namespace, "inferenceservices", MODEL
        )
        return dict(isvc.get("status") or {})

    def ready() -> dict[str, Any]:
        return next((c for c in status().get("conditions") or [] if c["type"] == "Ready"), {})

    applied = time.monotonic()
    custom.create_namespaced_custom_object(
        "lepton.ai", "v1alpha1", namespace, "inferenceservices", guarded_service()
    )
    named = wait_for(
        lambda: (c := ready()).get("reason") == "TokenSecretMissing" and c,
        NAMED_WITHIN,
        "Ready to name the missing Secret",
        seen=status,
    )
    took = time.monotonic() - applied
    print(f"\napply -> Ready names the missing Secret on the real node: {took:.1f}s")
    assert named["status"] == "False", named
    assert f"Secret {SECRET} " in named["message"], named
    assert f"namespace {namespace}" in named["message"], named
    [pod] = core.list_namespaced_pod(namespace, label_selector=f"lepton.ai/inferenceservice={MODEL}").items
    kubelet = [
        e
        for e in core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.uid={pod.metadata.uid}"
        ).items
        if e.reason == "FailedMount"
    ]
    assert kubelet, "the kubelet's FailedMount Event, which the condition is read from"
    print(f"the kubelet said: {kubelet[-1].message}")

    token = secrets.token_urlsafe(24)
    encoded = base64.b64encode(token.encode()).decode()
    core.create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET), data={"token": encoded})
    )
    created = time.monotonic()
    # The kubelet retries the mount with its backoff (up to about 2 minutes between tries).
    wait_for(lambda: ready().get("status") == "True", 240, "Ready once the Secret exists", seen=status)
    print(f"Secret created -> Ready: {time.monotonic() - created:.1f}s")
    assert not [c for c in status()["conditions"] if c["reason"] == "TokenSecretMissing"]

    [pod] = [
        p
        for p in core.list_namespaced_pod(
            namespace, label_selector=f"lepton.ai/inferenceservice={MODEL}"
        ).items
        if p.metadata.deletion_timestamp is None
    ]
    url = f"http://{pod.status.pod_ip}:8080/v2/models/{MODEL}/infer"
    with httpx.Client(timeout=10) as http:
        assert http.post(url, json=INPUT).status_code == 401
        answer = http.post(url, json=INPUT, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
    isvc = custom.get_namespaced_custom_object("lepton.ai", "v1alpha1", namespace, "inferenceservices", MODEL)
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={MODEL}").items
    seen = (
        json.dumps(isvc)
        + json.dumps([e.message for e in events])
        + operator.log_path.read_text(errors="replace")
    )
    assert token not in seen, "the token appears in the object, its events or the operator's log"
