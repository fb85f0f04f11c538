"""TrainingJobs driven through every phase the Argo CD testdata cover, each recorded or checked
against the committed testdata (argokit). Workers are KWOK pods: their exits come from the
sim.lepton.ai/exit-code hook (e2e/localcluster/stages/sim-pod-exit.yaml)."""

from __future__ import annotations

from typing import Any

import pytest
from argokit import Watched

from integration.trainingjob.tjkit import Jobs, manifest
from support.wait import wait_for

pytestmark = pytest.mark.integration

KIND, NAME = "TrainingJob", "classifier"
ZONE = {"topology.kubernetes.io/zone": "local-a"}  # two of the four 8-GPU nodes


def job(name: str = NAME, *, node_selector: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body = manifest(name, **{"replicas": 2, "gpus": 1, **spec})
    if node_selector:
        body["spec"]["template"]["spec"]["nodeSelector"] = node_selector
    return body


def status(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("status") or {})


def running(watched: Watched) -> dict[str, Any]:
    """All workers running and ready (the status stops changing there)."""
    return watched.until(
        lambda b: status(b).get("phase") == "Running" and status(b)["replicas"]["ready"] == 2,
        "both workers running and ready",
    )


def crash(jobs: Jobs, pod: str, code: int) -> None:
    """Make one running worker exit with ``code`` (the KWOK hook acts on the pod's annotations)."""
    patch = {"metadata": {"annotations": {"sim.lepton.ai/exit-code": str(code)}}}
    jobs.core.patch_namespaced_pod(pod, jobs.namespace, patch)


@pytest.fixture
def jobs(kube, namespace, operator) -> Jobs:
    jobs = Jobs(kube, namespace)

    def others() -> list[str]:
        pods = jobs.core.list_pod_for_all_namespaces(label_selector="lepton.ai/job-name").items
        return [
            f"{p.metadata.namespace}/{p.metadata.name}" for p in pods if p.metadata.namespace != namespace
        ]

    # Another suite's workers (or its jobs as their namespace goes) would hold GPUs: a job made to
    # run at once would queue first, and the phases recorded would not be the ones described.
    wait_for(lambda: not others(), 90, "no training worker of another test left", seen=others)
    return jobs


def test_queued_while_the_gang_does_not_fit_then_admitted_and_running(jobs, kube, namespace, recorder):
    jobs.create(job("holder", replicas=1, gpus=8, node_selector=ZONE))
    wait_for(
        lambda: jobs.phase("holder") == "Running", 60, "holder Running", seen=lambda: jobs.status("holder")
    )
    watched = Watched(kube, namespace, KIND, NAME)
    jobs.create(job(gpus=8, node_selector=ZONE))
    how = "2 workers x 8 GPUs in zone local-a (two 8-GPU nodes), while another job holds one of them"
    recorder.capture(KIND, "queued", watched.phase("Queued"), how)

    jobs.delete("holder")
    recorder.capture(
        KIND, "admitted", watched.phase("Admitted"), "the queued job once the other one was deleted"
    )
    recorder.capture(KIND, "running", running(watched), "the admitted job once both workers run")


@pytest.mark.parametrize(
    ("case", "backoff_limit", "phase"), [("restarting", 3, "Restarting"), ("failed", 0, "Failed")]
)
def test_a_worker_exits_with_an_error(jobs, kube, namespace, recorder, case, backoff_limit, phase):
    watched = Watched(kube, namespace, KIND, NAME)
    jobs.create(job(runPolicy={"backoffLimit": backoff_limit}))
    running(watched)
    crash(jobs, f"{NAME}-worker-1", 1)
    how = f"2 workers running, then worker 1 exits with code 1 (backoffLimit {backoff_limit})"
    recorder.capture(KIND, case, watched.phase(phase), how)


def test_succeeded_when_every_worker_exits_0(jobs, kube, namespace, recorder):
    watched = Watched(kube, namespace, KIND, NAME)
    done = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "2s"}
    jobs.create(job(annotations=done))
    recorder.capture(KIND, "succeeded", watched.phase("Succeeded"), "2 workers that exit 0 after 2 s")


def test_suspended_releases_the_workers(jobs, kube, namespace, recorder):
    watched = Watched(kube, namespace, KIND, NAME)
    jobs.create(job())
    running(watched)
    jobs.patch_spec(NAME, {"runPolicy": {"suspend": True}})
    suspended = watched.until(
        lambda b: status(b).get("phase") == "Suspended" and status(b)["replicas"]["active"] == 0,
        "Suspended with its workers gone",
    )
    recorder.capture(KIND, "suspended", suspended, "2 workers running, then spec.runPolicy.suspend: true")
