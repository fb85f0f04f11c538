"""Deleting an object only as it was last seen (resources.delete with ``version``) against the real
API server: how the TrainingJob controller unpins a worker without deleting one kube-scheduler bound
in the meantime (policies.lifecycle)."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes import client

from lepton.kube import resources
from lepton.kube.client import Kube

pytestmark = pytest.mark.integration


def test_a_delete_as_last_seen_leaves_an_object_that_changed_since(kubeconfig, kube, namespace):
    core = client.CoreV1Api(kube)
    seen = core.create_namespaced_config_map(namespace, {"metadata": {"name": "seen"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("seen", namespace, {"data": {"a": "2"}})
    operator_kube = Kube.connect(kubeconfig, workers=1)
    ref = resources.Ref("v1", "configmaps", namespace, "seen")
    try:
        stale = asyncio.run(resources.delete(operator_kube, ref, version=seen.metadata.resource_version))
        assert stale is False, "a delete with a stale resourceVersion said it deleted"
        assert core.read_namespaced_config_map("seen", namespace).data == {"a": "2"}, "changed object lost"
        current = core.read_namespaced_config_map("seen", namespace).metadata.resource_version
        assert asyncio.run(resources.delete(operator_kube, ref, version=current)) is True
        names = [c.metadata.name for c in core.list_namespaced_config_map(namespace).items]
        assert "seen" not in names, "deleted as last seen, yet still there"
    finally:
        operator_kube.close()
