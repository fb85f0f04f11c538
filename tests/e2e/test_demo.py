"""The demo's scenario, asserted: train on the real node, verify, serve, answer through the Service's
ClusterIP, scrape.

Runs `make demo`'s steps (e2e/realnode/demo.py) once for the module, against the cluster the
e2e fixture started, then checks what a bug in any piece would break.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy
import pytest
from e2ekit import lepton

from localcluster import procs
from localcluster.config import Config
from realnode import demo
from realnode.demokit import NAMESPACE, Clock
from support.wait import wait_for

# A module's first test also pays for its fixture: importing images into the node (GBs of torch
# when its layer changed) and a whole training run.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def result(e2e_cluster: Config) -> Iterator[demo.Result]:
    yield demo.run(Clock(), e2e_cluster)
    # The demo's operator runs on the host: it must not act on the objects of later modules.
    procs.stop(e2e_cluster.run, demo.OPERATOR)


def worker_pods(kubectl: Any, job: str = demo.JOB) -> list[dict[str, Any]]:
    out = kubectl("get", "pods", "-n", NAMESPACE, "-l", f"lepton.ai/job-name={job}", "-o", "json")
    return list(json.loads(out.stdout)["items"])


def test_workers_ran_on_the_real_node_and_rendezvoused(result: demo.Result, kubectl: Any) -> None:
    pods = worker_pods(kubectl)
    assert sorted(p["metadata"]["name"] for p in pods) == [f"{demo.JOB}-worker-0", f"{demo.JOB}-worker-1"]
    assert {p["spec"]["nodeName"] for p in pods} <= {"lepton-real-0", "lepton-real-1"}
    log = kubectl("logs", "-n", NAMESPACE, f"{demo.JOB}-worker-0").stdout
    assert "world size 2" in log, log[-2000:]


def test_job_succeeded_with_target_loss(result: demo.Result) -> None:
    status = result.job["status"]
    assert any(c["type"] == "Succeeded" and c["status"] == "True" for c in status["conditions"])
    assert float(status["metrics"]["loss"]) <= 0.05


def test_version_is_ready_with_the_artifacts_digest(result: demo.Result, e2e_cluster: Config) -> None:
    digest = result.version["status"]["digest"]
    artifact = e2e_cluster.state_dir / "demo" / "models" / "classifier" / "demo"
    manifest = json.loads((artifact / "manifest.json").read_text())
    model_file = artifact / manifest["file"]
    assert digest == manifest["digest"] == "sha256:" + hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert result.version["spec"]["source"]["digest"] == digest


def test_service_answers_as_the_artifact_loaded_here(result: demo.Result, e2e_cluster: Config) -> None:
    import torch

    from lepton.artifacts import load_artifact

    assert any(c["type"] == "Ready" and c["status"] == "True" for c in result.service["status"]["conditions"])
    loaded = load_artifact(Path(e2e_cluster.state_dir / "demo" / "models" / "classifier" / "demo"))
    with torch.no_grad():
        expected = loaded.module(torch.tensor([result.row], dtype=torch.float32))[0].tolist()
    assert result.answer == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_prometheus_counted_the_answered_request(result: demo.Result) -> None:
    assert result.requests >= 1


def test_demo_asked_through_the_services_cluster_ip(result: demo.Result, kubectl: Any) -> None:
    """No port-forward: the host reached the Service's ClusterIP, which kube-proxy routes, and
    still does."""
    service = json.loads(kubectl("get", "service", "classifier", "-n", NAMESPACE, "-o", "json").stdout)
    cluster_ip = service["spec"]["clusterIP"]
    assert cluster_ip.startswith("10.96."), cluster_ip
    assert result.url == f"http://{cluster_ip}:80/v2/models/classifier/infer"
    assert infer(cluster_ip, result.row, port=80) == 200


def test_cli_predict_answers_as_the_model_server(
    result: demo.Result, kubectl: Any, e2e_cluster: Config, tmp_path: Path
) -> None:
    """`lepton predict lisvc/classifier` (through the API server's service proxy) gives the numbers a
    direct OIP v2 request to the server pod gives, for every row of a CSV."""
    rows = [result.row, [-x for x in result.row], [0.0] * 16]
    direct = oip_outputs(server_pod(kubectl)["status"]["podIP"], rows)
    (tmp_path / "rows.csv").write_text("\n".join(",".join(map(str, row)) for row in rows))
    done = lepton(
        e2e_cluster, NAMESPACE, "predict", "lisvc/classifier", "-i", str(tmp_path / "rows.csv"), "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert list(answer) == [direct["name"]], answer
    assert numpy.asarray(answer[direct["name"]]).shape == tuple(direct["shape"])
    assert numpy.asarray(answer[direct["name"]]).ravel().tolist() == pytest.approx(
        direct["data"], rel=1e-6, abs=1e-7
    )


def oip_request(ip: str, rows: list[list[float]], port: int = 8080) -> urllib.request.Request:
    """An OIP v2 inference request for the classifier, one FP32 row of 16 per example."""
    data = [x for row in rows for x in row]
    body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [len(rows), 16], "data": data}]}
    return urllib.request.Request(
        f"http://{ip}:{port}/v2/models/classifier/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


def oip_outputs(ip: str, rows: list[list[float]]) -> dict[str, Any]:
    """The first output of a direct OIP v2 request to a server pod."""
    with urllib.request.urlopen(oip_request(ip, rows), timeout=10) as response:
        return dict(json.loads(response.read())["outputs"][0])


def server_pod(kubectl: Any) -> dict[str, Any]:
    out = kubectl("get", "pods", "-n", NAMESPACE, "-l", "lepton.ai/inferenceservice=classifier", "-o", "json")
    pods = [p for p in json.loads(out.stdout)["items"] if p["status"].get("podIP")]
    pods = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
    assert pods, "no running model server pod"
    return pods[0]


def infer(ip: str, row: list[float], port: int = 8080, timeout: float = 10) -> int:
    with urllib.request.urlopen(oip_request(ip, [row], port), timeout=timeout) as response:
        response.read()
        return int(response.status)


@contextmanager
def steady_load(ip: str, row: list[float], pause: float) -> Iterator[list[object]]:
    """Requests one after another through the ClusterIP, ``pause`` apart, while the block runs: the
    list gets each one's status, or the exception it raised (every failure is a finding)."""
    outcomes: list[object] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                outcomes.append(infer(ip, row, port=80, timeout=60))
            except Exception as exc:
                outcomes.append(exc)
            stop.wait(pause)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        yield outcomes
    finally:
        stop.set()
        loader.join(90)


def pod_counter(ip: str) -> float:
    with urllib.request.urlopen(f"http://{ip}:8080/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("lepton_serving_requests_total{")
        and 'model="classifier"' in line
        and 'code="200"' in line
    )


def test_prometheus_counts_exactly_the_requests_sent(
    result: demo.Result, kubectl: Any, e2e_cluster: Config
) -> None:
    pod = server_pod(kubectl)
    ip, name = pod["status"]["podIP"], pod["metadata"]["name"]
    before = pod_counter(ip)
    sent = 25
    assert all(infer(ip, result.row) == 200 for _ in range(sent))
    # The labels Prometheus puts on pods it discovers (localcluster/prometheus.py), none from a file.
    selector = f'model="classifier",code="200",namespace="{NAMESPACE}",pod="{name}",service="classifier"'
    query = f"sum(lepton_serving_requests_total{{{selector}}})"
    url = f"{e2e_cluster.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})

    def scraped() -> float | None:
        with urllib.request.urlopen(url, timeout=5) as response:
            found = json.loads(response.read())["data"]["result"]
        value = float(found[0]["value"][1]) if found else None
        return value if value == before + sent else None

    assert wait_for(scraped, timeout=60, what=f"Prometheus to report {before + sent:g} requests for {name}")


def test_sigterm_during_a_burst_fails_no_request(result: demo.Result, kubectl: Any) -> None:
    """The server keeps answering for its drain delay after SIGTERM, then finishes what is in flight."""
    ip = server_pod(kubectl)["status"]["podIP"]
    name = server_pod(kubectl)["metadata"]["name"]
    started = threading.Event()
    outcomes: list[object] = []

    def client() -> None:
        for i in range(40):
            try:
                outcomes.append(infer(ip, result.row))
            except Exception as exc:  # every failure is a finding
                outcomes.append(exc)
            if i == 5:
                started.set()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    assert started.wait(30), "the burst did not start"
    kubectl("delete", "pod", "-n", NAMESPACE, name, "--wait=false")
    for t in threads:
        t.join(60)
    failures = [o for o in outcomes if o != 200]
    assert len(outcomes) == 320
    assert not failures, f"{len(failures)} of 320 requests failed during SIGTERM, e.g. {failures[:3]}"
    pod = json.loads(kubectl("get", "pod", "-n", NAMESPACE, name, "-o", "json", check=False).stdout or "{}")
    assert pod == {} or "deletionTimestamp" in pod["metadata"], "the pod was not being deleted"


def deployment_replicas(kubectl: Any, name: str) -> int | None:
    out = kubectl("get", "deployment", "-n", NAMESPACE, name, "-o", "json", check=False)
    return int(json.loads(out.stdout)["spec"]["replicas"]) if out.returncode == 0 else None


def test_autoscaled_through_the_cluster_ip(result: demo.Result, kubectl: Any) -> None:
    """Load through the ClusterIP raises replicas, and no request fails on the way. Near the end of
    the module: it leaves the service autoscaled."""
    service = json.loads(kubectl("get", "service", "classifier", "-n", NAMESPACE, "-o", "json").stdout)
    cluster_ip = service["spec"]["clusterIP"]
    deployment = f"classifier-{result.version['spec']['version']}"
    autoscaling = {
        "minReplicas": 1, "maxReplicas": 2, "metric": "rps", "target": 2, "pollSeconds": 2,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}},
    }  # fmt: skip
    # The test before this one deleted the server pod: start once its replacement answers.
    wait_for(lambda: infer(cluster_ip, result.row, port=80) == 200, 180, "the service to answer again")
    patch = json.dumps({"spec": {"autoscaling": autoscaling}})
    kubectl("patch", "lisvc", "classifier", "-n", NAMESPACE, "--type=merge", "-p", patch)
    # About 8 requests/s: ceil(8 / 2) = 4 wanted, capped at maxReplicas 2.
    with steady_load(cluster_ip, result.row, pause=0.125) as outcomes:
        wait_for(lambda: deployment_replicas(kubectl, deployment) == 2, 180, "2 replicas under load")
    failures = [o for o in outcomes if o != 200]
    assert not failures, (
        f"{len(failures)} of {len(outcomes)} requests failed while scaling up: {failures[:3]}"
    )


def phase_of(kubectl: Any) -> str | None:
    out = kubectl("get", "lisvc", "classifier", "-n", NAMESPACE, "-o", "json")
    return json.loads(out.stdout).get("status", {}).get("phase")


def activator_exists(kubectl: Any) -> bool:
    out = kubectl("get", "deployment", "classifier-activator", "-n", NAMESPACE, check=False)
    return out.returncode == 0


def test_to_zero_when_idle_and_back_through_the_activator_with_no_failed_request(
    result: demo.Result, kubectl: Any
) -> None:
    """Idle, the service goes to zero; the first request through the ClusterIP, sent the moment the
    servers go, is held by the activator and answered 200; requests keep answering while the stable
    Service moves back to the new server and the activator is deleted. Last in the module."""
    service = json.loads(kubectl("get", "service", "classifier", "-n", NAMESPACE, "-o", "json").stdout)
    cluster_ip = service["spec"]["clusterIP"]
    deployment = f"classifier-{result.version['spec']['version']}"
    autoscaling = {
        "minReplicas": 0, "maxReplicas": 2, "metric": "rps", "target": 2, "pollSeconds": 2,
        "scaleToZero": {"idleSeconds": 30},
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}},
    }  # fmt: skip
    patch = json.dumps({"spec": {"autoscaling": autoscaling}})
    kubectl("patch", "lisvc", "classifier", "-n", NAMESPACE, "--type=merge", "-p", patch)
    wait_for(lambda: deployment_replicas(kubectl, deployment) == 0, 240, "zero replicas after 30 s idle",
             seen=lambda: (phase_of(kubectl), deployment_replicas(kubectl, deployment)))  # fmt: skip
    # The reconcile that scales the Deployment to zero writes the phase after it: a moment later.
    wait_for(lambda: phase_of(kubectl) == "ScaledToZero", 30, "phase ScaledToZero at zero replicas",
             seen=lambda: (phase_of(kubectl), deployment_replicas(kubectl, deployment)))  # fmt: skip
    # At once, while the servers drain and kube-proxy moves the Service to the activator.
    sent = time.monotonic()
    first = infer(cluster_ip, result.row, port=80, timeout=120)
    assert first == 200, f"the first request after zero got {first}"
    print(f"\nfirst request after zero answered in {time.monotonic() - sent:.2f}s (cold start)")
    with steady_load(cluster_ip, result.row, pause=0.1) as outcomes:
        # Through the switch back: the Service selects the server again, the activator drains.
        wait_for(lambda: not activator_exists(kubectl), 120, "the activator to leave once a server is Ready",
                 seen=lambda: (phase_of(kubectl), deployment_replicas(kubectl, deployment)))  # fmt: skip
        seen = len(outcomes)
        wait_for(lambda: len(outcomes) >= seen + 30, 60, "30 more requests after the activator left")
    failures = [o for o in outcomes if o != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} requests failed around zero: {failures[:3]}"
    print(f"{len(outcomes)} requests through the switch back and the activator's exit, none failed")
    assert deployment_replicas(kubectl, deployment) >= 1
