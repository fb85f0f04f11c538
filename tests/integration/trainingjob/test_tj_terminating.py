"""Creates in a namespace being deleted, against the real API server: once it refused one ("...
because it is being terminated"), the controller asks no more for a while. Deleting a namespace
deletes its pods, and each deletion woke a job that still held its admission, which asked again for
every missing worker: about 9,400 refused creates for a bench namespace of 100 jobs.

The controller's act step is driven directly: in a real namespace deletion the jobs and their pods
go in an order the test cannot choose, and a job already marked for deletion is never admitted."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator

import pytest
from kubernetes import client
from tjkit import manifest

from lepton.api.trainingjob import TrainingJob
from lepton.controllers.training.act import TERMINATING_HOLD_S, act
from lepton.controllers.training.context import Training
from lepton.kube.client import Kube
from lepton.kube.resources import Discovery
from lepton.metrics import Metrics
from lepton.policies.lifecycle import Plan
from lepton.policies.status import Phase
from lepton.settings import Settings
from support.wait import wait_for

pytestmark = pytest.mark.integration

HOLD = "test.lepton.ai/hold"  # a finalizer of the test's own: the namespace stays Terminating


@pytest.fixture
def terminating(kube: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(kube)
    name = f"tj-terminating-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    held = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="hold", finalizers=[HOLD]))
    core.create_namespaced_config_map(name, held)
    core.delete_namespace(name)
    wait_for(lambda: core.read_namespace(name).status.phase == "Terminating", 30, f"{name} Terminating")
    yield name
    core.patch_namespaced_config_map("hold", name, {"metadata": {"finalizers": None}})


def test_tj_no_create_is_asked_again_in_a_namespace_being_deleted(kubeconfig, terminating):
    posts: list[tuple[str, int]] = []

    def observe(verb: str, resource: str, status: int) -> None:
        if verb == "post":
            posts.append((resource, status))

    kube = Kube.connect(kubeconfig, workers=4, observe=observe)
    settings = Settings()
    training = Training(
        kube=kube, settings=settings, metrics=Metrics(), discovery=Discovery(kube), clock=time.time
    )
    body = manifest("doomed", replicas=2, gpus=1)
    body["metadata"].update(namespace=terminating, uid="00000000-0000-0000-0000-000000000001")
    job = TrainingJob.model_validate(body)
    plan = Plan(
        phase=Phase.ADMITTED,
        reason="Admitted",
        message="",
        attempt=0,
        restart_count=0,
        counted_restarts=0,
        start_time=None,
        completion_time=None,
        create=(0, 1),
    )
    try:
        asyncio.run(act(job, plan, {}, training, ()))
        refused = sorted(posts)
        assert refused == [("pods", 403), ("pods", 403), ("services", 403)], (
            f"the first act should ask for both workers and the Service and be refused: {refused}"
        )
        assert training.terminating[terminating] > time.time() + TERMINATING_HOLD_S - 10, training.terminating
        assert f"{terminating}/doomed" not in training.refused, "a namespace being deleted is no ConfigError"
        posts.clear()
        # Woken again (a pod's deletion, a resync): nothing asked while the hold lasts.
        asyncio.run(act(job, plan, {}, training, ()))
        assert posts == [], f"asked again in a namespace being deleted: {posts}"
        # The hold ends: a namespace of that name may have been made again, so it asks once more.
        training.terminating[terminating] = time.time() - 1
        asyncio.run(act(job, plan, {}, training, ()))
        assert sorted(posts) == [("pods", 403), ("pods", 403), ("services", 403)], posts
    finally:
        kube.close()
