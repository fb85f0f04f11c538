"""The model server's API tokens in its Deployment: Secrets mounted as files, never in the environment."""

from __future__ import annotations

import json
from typing import Any

from lepton.api import InferenceService, ModelVersion
from lepton.builders.inference import APPLIED_HASH, construct_deployment
from lepton.builders.serving_config import ServingConfig
from lepton.builders.traffic import construct_httproute

TOKENS = [{"name": "iris-tokens", "key": "current"}, {"name": "iris-tokens-next", "key": "token"}]


def service(**spec: Any) -> InferenceService:
    return InferenceService.model_validate(
        {
            "metadata": {"name": "iris", "namespace": "ml", "uid": "u1"},
            "spec": {"model": {"name": "iris"}, **spec},
        }
    )


def version() -> ModelVersion:
    return ModelVersion.model_validate(
        {
            "metadata": {"name": "iris-v2", "namespace": "ml", "uid": "mv1"},
            "spec": {"model": "iris", "version": "v2", "source": {"uri": "file:///models/iris/v2"}},
        }
    )


def deployment(**spec: Any) -> dict[str, Any]:
    return construct_deployment(service(**spec), version(), 1, ServingConfig())


def test_token_secrets_are_projected_into_the_server_container_read_only() -> None:
    pod = deployment(auth={"tokenSecrets": TOKENS})["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "api-tokens"]
    assert volume == {
        "name": "api-tokens",
        "projected": {
            "defaultMode": 0o440,
            "sources": [
                {"secret": {"name": "iris-tokens", "items": [{"key": "current", "path": "token-0"}]}},
                {"secret": {"name": "iris-tokens-next", "items": [{"key": "token", "path": "token-1"}]}},
            ],
        },
    }
    [server] = pod["containers"]
    mount = {"name": "api-tokens", "mountPath": "/var/run/lepton/api-tokens", "readOnly": True}
    assert mount in server["volumeMounts"]
    assert not any("subPath" in m for m in server["volumeMounts"])  # subPath mounts are never refreshed
    command = server["command"]
    flags = [command[i + 1] for i, arg in enumerate(command) if arg == "--token-file"]
    assert flags == ["/var/run/lepton/api-tokens/token-0", "/var/run/lepton/api-tokens/token-1"]
    [fetch] = pod["initContainers"]
    assert all(m["name"] != "api-tokens" for m in fetch["volumeMounts"])  # the fetcher needs no token


def test_no_token_and_no_secret_reference_reaches_the_environment() -> None:
    body = deployment(auth={"tokenSecrets": TOKENS}, server={"env": [{"name": "A", "value": "1"}]})
    pod = body["spec"]["template"]["spec"]
    for container in [*pod["containers"], *pod["initContainers"]]:
        assert container.get("env", []) == [{"name": "A", "value": "1"}]
        assert "envFrom" not in container
    assert "secretKeyRef" not in json.dumps(body)


def test_auth_changes_only_what_it_adds_and_the_hash() -> None:
    """Turning auth on rolls the pods (a new hash); nothing else of the Deployment moves. A token's
    rotation changes the Secret only: the Deployment, built without reading it, stays the same."""
    plain, authed = deployment(), deployment(auth={"tokenSecrets": TOKENS[:1]})
    assert plain["metadata"]["annotations"][APPLIED_HASH] != authed["metadata"]["annotations"][APPLIED_HASH]
    plain_pod, authed_pod = plain["spec"]["template"]["spec"], authed["spec"]["template"]["spec"]
    assert authed_pod["volumes"][:-1] == plain_pod["volumes"]
    server, authed_server = plain_pod["containers"][0], authed_pod["containers"][0]
    assert authed_server["volumeMounts"][:-1] == server["volumeMounts"]
    assert [a for a in authed_server["command"] if a not in server["command"]] == [
        "--token-file",
        "/var/run/lepton/api-tokens/token-0",
    ]
    assert deployment() == plain
    assert "api-tokens" not in json.dumps(plain)


def test_the_gateway_route_passes_headers_as_they_are() -> None:
    """The route filters nothing but mirrored copies: Authorization reaches every version's servers
    (which all mount the same Secrets), the mirrored copy included."""
    isvc = service(auth={"tokenSecrets": TOKENS}, traffic={"gateway": {"name": "gw"}, "mirrorPercent": 10})
    route = construct_httproute(isvc, {"v1": 90, "v2": 10}, mirror=("v2", 10))
    filters = [f for rule in route["spec"]["rules"] for f in rule.get("filters", [])]
    assert [f["type"] for f in filters] == ["RequestMirror"]
    assert "Header" not in json.dumps(route)
