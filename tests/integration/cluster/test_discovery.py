"""The operator's discovery cache against the real API server: an API installed after the operator
first looked for it (Gateway API or Traefik's CRDs applied after the operator started) is acted on
within the shorter cache time of a missing API, not the longer one of an API that is served."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest
from kubernetes import client

from lepton.kube.client import Kube
from lepton.kube.resources import Discovery
from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def crd(kube: client.ApiClient) -> Iterator[tuple[str, dict]]:
    group = f"d{secrets.token_hex(4)}.discovery.lepton.ai"
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    yield group, body
    try:
        client.ApiextensionsV1Api(kube).delete_custom_resource_definition(f"widgets.{group}")
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def test_an_api_installed_after_the_first_look_is_seen_within_the_absent_ttl(kubeconfig, kube, crd):
    group, body = crd
    now = [0.0]  # a fake clock: the cache's times are the test's, the API server's answers are real
    operator_kube = Kube.connect(kubeconfig, workers=2)
    discovery = Discovery(operator_kube, ttl_seconds=60.0, absent_ttl_seconds=10.0, clock=lambda: now[0])
    served = lambda: asyncio.run(discovery.served(group, "v1", "widgets"))  # noqa: E731
    try:
        assert served() is False, "a group no CRD defines yet was said to be served"
        client.ApiextensionsV1Api(kube).create_custom_resource_definition(body)
        # The API server serves the new group once the CRD is Established; the real listing says so.
        wait_for(
            lambda: any(g.name == group for g in client.ApisApi(kube).get_api_versions().groups),
            30,
            f"the API server to serve {group}",
        )
        now[0] = 9.0
        assert served() is False, "the cached answer 'not served' was dropped before its 10 s"
        now[0] = 10.5
        assert served() is True, "an API installed after the first look was not seen after 10 s"
        # Now served: kept for the long time, so the hot path makes no discovery request.
        client.ApiextensionsV1Api(kube).delete_custom_resource_definition(f"widgets.{group}")
        now[0] = 60.0
        assert served() is True, "a served API was asked again before its 60 s"
    finally:
        operator_kube.close()
