"""spec.auth on the local cluster: the token Secrets mounted into the server pods, refused when
malformed, a rotation that leaves the pods alone, and no token in the operator's log, the object's
status, its events or its children. (The servers' side, with real processes: tests/serving and
tests/activator.)"""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from servekit import Serving, inference_service

from support.wait import wait_for

pytestmark = pytest.mark.integration

NAME = "guarded"


def _secret(name: str, **data: str) -> client.V1Secret:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name), data=encoded)


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({"tokenSecrets": []}, "spec.auth.tokenSecrets"),
        ({"tokenSecrets": [{"name": "s"}]}, "spec.auth.tokenSecrets[0].key"),
        ({"tokenSecrets": [{"name": "S_bad", "key": "k"}]}, "spec.auth.tokenSecrets[0].name"),
        ({"tokenSecrets": [{"name": "s", "key": "a/b"}]}, "spec.auth.tokenSecrets[0].key"),
        (
            {"tokenSecrets": [{"name": "s", "key": "k"}, {"name": "s", "key": "k"}]},
            "spec.auth.tokenSecrets[1]",
        ),
        ({"tokenSecrets": [{"name": f"s{i}", "key": "k"} for i in range(9)]}, "spec.auth.tokenSecrets"),
    ],
)
def test_malformed_auth_is_refused_naming_the_field(kube, namespace, lepton_crds, auth, field):
    serving = Serving(kube, namespace)
    with pytest.raises(ApiException) as refused:
        serving.create(inference_service(NAME, "iris", auth=auth))
    assert refused.value.status == 422
    assert field in json.loads(refused.value.body)["message"]


def test_tokens_are_mounted_rotate_without_a_rollout_and_leak_nowhere(kube, namespace, operator):
    serving = Serving(kube, namespace)
    old, new = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    serving.core.create_namespaced_secret(namespace, _secret("api-tokens", current=old))
    serving.ready_version("iris", "v1")
    auth = {"tokenSecrets": [{"name": "api-tokens", "key": "current"}]}
    serving.create(inference_service(NAME, "iris", auth=auth))
    serving.wait_phase("inferenceservices", NAME, "Ready")

    deployment = serving.apps.read_namespaced_deployment(f"{NAME}-v1", namespace)
    pod = deployment.spec.template.spec
    [volume] = [v for v in pod.volumes if v.name == "api-tokens"]
    [source] = volume.projected.sources
    assert (source.secret.name, source.secret.items[0].key) == ("api-tokens", "current")
    server = pod.containers[0]
    assert any(m.name == "api-tokens" and m.read_only for m in server.volume_mounts)
    assert "--token-file" in server.command
    template = deployment.spec.template.to_dict()

    # Rotation: the Secret changes, the kubelet refreshes the file, the servers re-read it. The
    # operator has nothing to do: a later reconcile (here a scale) leaves the pod template alone.
    serving.core.replace_namespaced_secret(
        "api-tokens", namespace, _secret("api-tokens", current=f"{old}\n{new}")
    )
    serving.patch_spec("inferenceservices", NAME, {"replicas": 2})
    wait_for(
        lambda: serving.apps.read_namespaced_deployment(f"{NAME}-v1", namespace).spec.replicas == 2,
        30,
        "the Deployment scaled to 2",
    )
    after = serving.apps.read_namespaced_deployment(f"{NAME}-v1", namespace)
    assert after.spec.template.to_dict() == template

    # Turning auth off rolls the pods to a template without the tokens.
    serving.patch_spec("inferenceservices", NAME, {"auth": None})
    wait_for(
        lambda: (
            not any(
                v.name == "api-tokens"
                for v in serving.apps.read_namespaced_deployment(
                    f"{NAME}-v1", namespace
                ).spec.template.spec.volumes
            )
        ),
        30,
        "the token volume gone with spec.auth",
    )

    seen = {
        "operator log": operator.log_path.read_text(errors="replace"),
        "object": json.dumps(serving.get("inferenceservices", NAME)),
        "events": json.dumps(serving.events(NAME)),
        "deployments": json.dumps(
            [d.to_dict() for d in serving.apps.list_namespaced_deployment(namespace).items], default=str
        ),
    }
    assert NAME in seen["operator log"]  # the operator did log about this object
    for where, text in seen.items():
        for token in (old, new):
            assert token not in text, f"a token appears in the {where}"
