"""spec.networkPolicy on the local cluster: the NetworkPolicy the operator server-side applies through
the real API server, owned by the service; its pod selector against the real server pods (the API
server's own label matching), its namespace selector against the real namespaces; put back when
deleted by hand, deleted when disabled or unset; refused specs; a policy of the same name that is
someone else's is never taken over.

Enforcement is not tested here: the local cluster's pods are KWOK's (no network at all) and its
real node's CNI (the bridge plugin) does not implement NetworkPolicy, so no packet would be dropped
whatever the policy said. What a policy admits is the CNI's job; what this suite can prove is that
the object says what it should and selects what it should."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from servekit import Serving, inference_service

from support.wait import wait_for

pytestmark = pytest.mark.integration

NAME = "guarded"


def policy_of(net: client.NetworkingV1Api, namespace: str, name: str) -> Any | None:
    try:
        return net.read_namespaced_network_policy(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def selector(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def guarded(namespace: str, **policy: Any) -> dict[str, Any]:
    return inference_service(
        NAME, "iris", replicas=2, networkPolicy={"gateway": {"namespaces": [namespace]}, **policy}
    )


def test_the_policy_is_applied_selects_the_server_pods_and_follows_the_spec(kube, namespace, operator):
    serving, net = Serving(kube, namespace), client.NetworkingV1Api(kube)
    serving.ready_version("iris", "v1")
    isvc = serving.create(guarded(namespace))
    serving.wait_phase("inferenceservices", NAME, "Ready", 60)
    policy = wait_for(lambda: policy_of(net, namespace, NAME), 30, f"NetworkPolicy {NAME}")

    owner = policy.metadata.owner_references[0]
    assert (owner.kind, owner.uid, owner.controller) == ("InferenceService", isvc["metadata"]["uid"], True)
    managers = {(m.manager, m.operation) for m in policy.metadata.managed_fields}
    assert ("lepton-operator", "Apply") in managers, managers  # server-side applied
    assert policy.spec.policy_types == ["Ingress"]

    # The pod selector, matched by the API server against the real pods: exactly the servers.
    pods = serving.core.list_namespaced_pod(namespace).items
    servers = {p.metadata.name for p in pods if p.metadata.name.startswith(f"{NAME}-v1-")}
    assert len(servers) == 2, [p.metadata.name for p in pods]
    chosen = serving.core.list_namespaced_pod(
        namespace, label_selector=selector(policy.spec.pod_selector.match_labels)
    )
    assert {p.metadata.name for p in chosen.items} == servers

    # Each source, on the server's port as the pods name it.
    container = serving.apps.read_namespaced_deployment(
        f"{NAME}-v1", namespace
    ).spec.template.spec.containers[0]
    named_ports = {p.name for p in container.ports}
    for rule in policy.spec.ingress:
        assert [(p.protocol, p.port) for p in rule.ports] == [("TCP", "http")]
        assert "http" in named_ports
    gateway, activator, prometheus = (rule._from[0] for rule in policy.spec.ingress)
    expression = gateway.namespace_selector.match_expressions[0]
    chosen_ns = client.CoreV1Api(kube).list_namespace(
        label_selector=f"{expression.key} in ({','.join(expression.values)})"
    )
    assert [n.metadata.name for n in chosen_ns.items] == [namespace]  # the real namespace's label
    assert activator.pod_selector.match_labels == {
        "lepton.ai/inferenceservice": NAME, "app.kubernetes.io/component": "activator",
    }  # fmt: skip
    assert activator.namespace_selector is None  # the service's own namespace
    assert prometheus.pod_selector.match_labels == {"app.kubernetes.io/name": "prometheus"}

    # Deleted by hand: put back on the watch event, as the service's other children are.
    net.delete_namespaced_network_policy(NAME, namespace)
    wait_for(
        lambda: (p := policy_of(net, namespace, NAME)) is not None and p.metadata.uid != policy.metadata.uid,
        30, "the NetworkPolicy put back",
    )  # fmt: skip

    serving.patch_spec("inferenceservices", NAME, {"networkPolicy": {"enabled": False}})
    wait_for(lambda: policy_of(net, namespace, NAME) is None, 30, "the NetworkPolicy deleted when disabled")
    serving.patch_spec("inferenceservices", NAME, {"networkPolicy": {"enabled": True}})
    wait_for(lambda: policy_of(net, namespace, NAME), 30, "the NetworkPolicy back when enabled")
    serving.patch_spec("inferenceservices", NAME, {"networkPolicy": None})
    wait_for(lambda: policy_of(net, namespace, NAME) is None, 30, "the NetworkPolicy deleted when unset")
    assert serving.status("inferenceservices", NAME)["phase"] == "Ready"


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ({}, "networkPolicy.gateway"),
        ({"gateway": {"namespaces": ["apps"], "podLabels": {"-bad": "x"}}}, "podLabels"),
    ],
    ids=["no gateway without spec.traffic", "a bad label key"],
)
def test_the_api_server_refuses_a_policy_that_would_admit_no_client_or_is_malformed(
    kube, namespace, policy, named
):
    serving = Serving(kube, namespace)
    with pytest.raises(ApiException) as refused:
        serving.create(inference_service("refused", "iris", networkPolicy=policy))
    assert refused.value.status == 422
    assert named in str(refused.value.body), refused.value.body


def test_a_policy_of_that_name_that_is_someone_elses_is_not_taken_over(kube, namespace, operator):
    serving, net = Serving(kube, namespace), client.NetworkingV1Api(kube)
    theirs = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": NAME},
        "spec": {"podSelector": {"matchLabels": {"app": "theirs"}}, "policyTypes": ["Ingress"]},
    }
    net.create_namespaced_network_policy(namespace, theirs)
    serving.ready_version("iris", "v1")
    serving.create(guarded(namespace))
    status = serving.wait_phase("inferenceservices", NAME, "Failed", 30)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NetworkPolicyConflict"), ready
    found = policy_of(net, namespace, NAME)
    assert found.spec.pod_selector.match_labels == {"app": "theirs"}
    assert not found.metadata.owner_references
    # No server runs without the policy it asked for.
    assert serving.deployment_names() == []
