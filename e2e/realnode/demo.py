"""`make demo`: the main job for real on this machine, from a TrainingJob to a served answer.

Starts (or extends) the local cluster with a real node and Prometheus, builds or reuses the images,
runs the operator, trains examples/demo/trainingjob.yaml on the real node, waits for the verified
ModelVersion, serves it (examples/demo/inferenceservice.yaml), asks it one OIP v2 question through
its Service's ClusterIP (routed by kube-proxy) and checks that Prometheus, which finds annotated
pods itself, scrapes the server. Prints progress and a summary; exits 1 with the reason when a step
fails. `make demo-down` stops it all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcluster import cluster, procs
from localcluster.config import REPO_DIR, Config
from localcluster.procs import ClusterError, Probe

from . import demokit
from .archives import import_all
from .demokit import NAMESPACE, Clock, DemoError, Kube

EXAMPLES = REPO_DIR / "examples" / "demo"
OPERATOR = "lepton-operator"
SYSTEM_NAMESPACE = "lepton-system"
# Not "classifier": the job's headless Service and the InferenceService's Service share the namespace.
JOB = "classifier-train"


def start_cluster(clock: Clock, cfg: Config) -> None:
    clock.say(f"starting the local cluster with {max(cfg.real_nodes, 1)} real node(s) and Prometheus")
    env = {**os.environ, "REAL_NODES": str(max(cfg.real_nodes, 1)), "PROMETHEUS": "1"}
    env["PYTHONPATH"] = str(REPO_DIR / "e2e")
    if subprocess.run([sys.executable, "-m", "localcluster", "up"], env=env, check=False).returncode:
        raise DemoError("the local cluster did not start (output above)")


def build_images(clock: Clock, cfg: Config) -> None:
    clock.say("building or reusing the images (first time: torch, several minutes)")
    began = time.monotonic()
    out = subprocess.run(
        [str(REPO_DIR / "e2e" / "images" / "build.sh"), "operator", "trainer", "server"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if out.returncode:
        raise DemoError("building the images failed (output above)")
    lines = [line.split() for line in out.stdout.strip().splitlines()]
    clock.say(f"images ready in {time.monotonic() - began:.0f}s; importing them into the real node")
    import_all(cfg, Path(lines[0][1]), [ref for _, _, ref in lines])


def apply_crds(clock: Clock, kube: Kube) -> None:
    kube.run("apply", "--server-side", "-f", str(REPO_DIR / "crds"))

    def established() -> bool | None:
        # Not `kubectl wait`: right after the create it can fail at once ("conditions accessor
        # error: <nil>") on a CRD whose status the API server has not filled in yet.
        found = json.loads(kube.run("get", "-f", str(REPO_DIR / "crds"), "-o", "json"))
        crds = found["items"] if found.get("kind") == "List" else [found]
        return True if all(demokit.condition(crd, "Established") for crd in crds) else None

    clock.wait("the CRDs to be Established", established, 60)


def prepare_namespace(clock: Clock, kube: Kube, cfg: Config) -> None:
    clock.say(f"applying the CRDs, namespace {NAMESPACE} and the model storage")
    apply_crds(clock, kube)
    kube.run("create", "namespace", NAMESPACE, check=False)
    models = cfg.state_dir / "demo" / "models"
    models.mkdir(parents=True, exist_ok=True)
    os.chown(models, 1000, 1000)  # the trainer and server run as uid 1000
    storage = kube.manifest(EXAMPLES / "storage.yaml")
    for item in storage:
        if item["kind"] == "PersistentVolume":
            item["spec"]["hostPath"]["path"] = str(models)
    kube.apply(storage)


def start_operator(clock: Clock, cfg: Config) -> int:
    pid = procs.read_pid(cfg.run, OPERATOR)
    if pid is not None and procs.alive(pid):
        clock.say(f"operator already running (pid {pid})")
        return pid
    clock.say("starting the operator (local process; log: " + str(cfg.logs / f"{OPERATOR}.log") + ")")
    health, metrics, activation = procs_port(), procs_port(), procs_port()
    env = {
        "LEPTON_KUBECONFIG": str(cfg.kubeconfig),
        "LEPTON_NAMESPACES": "",
        "LEPTON_METRICS_HOST": "127.0.0.1",
        "LEPTON_METRICS_PORT": str(metrics),
        "LEPTON_HEALTH_PORT": str(health),
        # Activators (pods on the bridge) ask for replicas here; the operator runs on the host.
        "LEPTON_ACTIVATION_HOST": cfg.bridge_ip,
        "LEPTON_ACTIVATION_PORT": str(activation),
        "LEPTON_ACTIVATION_URL": f"http://{cfg.bridge_ip}:{activation}/activate",
        "LEPTON_PROMETHEUS_URL": cfg.prometheus_url,
        "LEPTON_LOG_FORMAT": "text",
        "LEPTON_VERIFY_NODE_SELECTOR": json.dumps(demokit.REAL_NODE_SELECTOR),
        "LEPTON_VERIFY_TOLERATIONS": json.dumps([demokit.REAL_NODE_TOLERATION]),
    }
    python = REPO_DIR / ".venv" / "bin" / "python"
    pid = procs.start(cfg.run, cfg.logs, OPERATOR, [str(python), "-m", "lepton"], env=env)
    procs.wait_ready(OPERATOR, Probe(f"http://127.0.0.1:{health}/healthz"), pid, cfg.logs, timeout=90)
    return pid


def start_operator_in_cluster(clock: Clock, kube: Kube, cfg: Config) -> None:
    """The operator as a Deployment on the real node from its image, with the chart's RBAC."""
    if procs.stop(cfg.run, OPERATOR):
        clock.say("stopped the local operator process (IN_CLUSTER=1 runs it in the cluster)")
    out = subprocess.run(
        [str(REPO_DIR / "e2e" / "realnode" / "build-helm.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if out.returncode:
        raise DemoError("building helm failed (output above)")
    helm = out.stdout.strip().splitlines()[-1]
    health = procs_port()
    values = {
        "image": {"pullPolicy": "Never"},
        "logLevel": "info",
        # The local API server listens on 127.0.0.1 only: the kubernetes Service has no endpoint a pod
        # could reach, kube-proxy or not.
        "hostNetwork": True,
        "apiServer": {"host": "127.0.0.1", "port": str(cfg.ports.apiserver)},
        "ports": {"metrics": procs_port(), "health": health},
        "nodeSelector": demokit.REAL_NODE_SELECTOR,
        "tolerations": [demokit.REAL_NODE_TOLERATION],
        "verification": {
            "nodeSelector": demokit.REAL_NODE_SELECTOR,
            "tolerations": [demokit.REAL_NODE_TOLERATION],
        },
    }
    values_file = cfg.state_dir / "demo" / "operator-values.json"
    values_file.write_text(json.dumps(values))  # JSON is YAML
    rendered = subprocess.run(
        [
            helm,
            "template",
            "lepton",
            str(REPO_DIR / "charts" / "lepton"),
            "-n",
            SYSTEM_NAMESPACE,
            "-f",
            str(values_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if rendered.returncode:
        raise DemoError(f"helm template charts/lepton failed: {rendered.stderr.strip()}")
    kube.run("create", "namespace", SYSTEM_NAMESPACE, check=False)
    kube.run("apply", "-n", SYSTEM_NAMESPACE, "-f", "-", stdin=rendered.stdout)
    clock.say(f"applied the chart's operator Deployment and RBAC in namespace {SYSTEM_NAMESPACE}")

    def available() -> bool | None:
        deployment = kube.get("deployment", "lepton-operator", SYSTEM_NAMESPACE)
        return True if demokit.condition(deployment, "Available") else None

    def seen() -> str:
        out = kube.run("get", "pods", "-n", SYSTEM_NAMESPACE, "-o", "wide", check=False)
        return " ".join(out.split())

    clock.wait("the operator Deployment to be Available", available, 300, seen=seen)


def procs_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(clock: Clock, kube: Kube) -> dict[str, Any]:
    # A re-run starts over: ModelVersions are immutable, and the new one takes the same name.
    for kind in ("inferenceservice", "trainingjob", "modelversion", "service"):
        kube.run(
            "delete", kind, "--all", "-n", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s"
        )
    kube.apply(kube.manifest(EXAMPLES / "trainingjob.yaml"))
    clock.say(f"applied TrainingJob {JOB} (2 workers, CPU, gloo) on the real node")

    def done() -> dict[str, Any] | None:
        job = kube.get("trainingjob", JOB)
        if demokit.condition(job, "Failed"):
            raise DemoError(f"TrainingJob failed: {demokit.condition(job, 'Failed')}")
        return job if demokit.condition(job, "Succeeded") else None

    return clock.wait(
        f"TrainingJob {JOB} to succeed",
        done,
        900,
        seen=lambda: kube.pods_line(f"lepton.ai/job-name={JOB}"),
    )


def verified_version(clock: Clock, kube: Kube, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        mv = kube.get("modelversion", name)
        if (mv.get("status") or {}).get("phase") == "Failed":
            raise DemoError(f"ModelVersion {name} failed verification: {mv['status']}")
        return mv if demokit.condition(mv, "Ready") else None

    what = f"ModelVersion {name} to be verified by a verification pod"
    return clock.wait(what, ready, 600, seen=lambda: kube.pods_line("batch.kubernetes.io/job-name"))


def serve(clock: Clock, kube: Kube) -> dict[str, Any]:
    kube.apply(kube.manifest(EXAMPLES / "inferenceservice.yaml"))
    clock.say("applied InferenceService classifier (1 replica on the real node)")
    selector = "lepton.ai/inferenceservice=classifier"

    def ready() -> dict[str, Any] | None:
        isvc = kube.get("inferenceservice", "classifier")
        return isvc if demokit.condition(isvc, "Ready") else None

    return clock.wait(
        "InferenceService classifier to be Ready", ready, 600, seen=lambda: kube.pods_line(selector)
    )


def ask(clock: Clock, kube: Kube) -> tuple[str, list[float], list[float]]:
    """One OIP v2 inference request through the Service's ClusterIP, from the host: kube-proxy's
    rules send it to one of the ready model-server pods, as a client in a real cluster would."""
    service = kube.get("service", "classifier")
    url = f"http://{service['spec']['clusterIP']}:80/v2/models/classifier/infer"
    row = [round(0.1 * i - 0.8, 2) for i in range(16)]
    body = json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 16], "data": row}]}
    ).encode()
    clock.say(f"asking the model through its Service's ClusterIP: POST {url}")

    def answer() -> list[float] | None:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return [float(x) for x in json.loads(response.read())["outputs"][0]["data"]]

    # Bounded: kube-proxy programs the Service's endpoints a moment after the pod turns Ready.
    return url, row, clock.wait("the inference answer", answer, 60)


def scraped(clock: Clock, cfg: Config) -> float:
    """Read the request counter back from Prometheus, which found the server pod by itself (its
    scrape annotations; see localcluster/prometheus.py): nothing tells it about the pod."""
    query = 'sum(lepton_serving_requests_total{model="classifier",code="200",service="classifier"})'
    url = f"{cfg.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})

    def value() -> float | None:
        with urllib.request.urlopen(url, timeout=5) as response:
            result = json.loads(response.read())["data"]["result"]
        return float(result[0]["value"][1]) if result and float(result[0]["value"][1]) >= 1 else None

    return clock.wait(f"Prometheus to scrape the model server ({query})", value, 90)


@dataclass
class Result:
    job: dict[str, Any]
    job_seconds: float
    version: dict[str, Any]
    service: dict[str, Any]
    url: str  # where the demo asked: the Service's ClusterIP
    row: list[float]
    answer: list[float]
    first_answer_seconds: float
    requests: float


def run(clock: Clock, cfg: Config) -> Result:
    """Every step of the demo; raises DemoError (or ClusterError) naming the step that failed."""
    start_cluster(clock, cfg)
    kube = Kube(cfg, cluster.tools_dir())
    build_images(clock, cfg)
    prepare_namespace(clock, kube, cfg)
    if os.environ.get("IN_CLUSTER", "0") not in ("", "0"):
        start_operator_in_cluster(clock, kube, cfg)
    else:
        start_operator(clock, cfg)
    applied = time.monotonic()
    job = train(clock, kube)
    job_seconds = time.monotonic() - applied
    name = (job.get("status") or {}).get("modelVersion") or "classifier-demo"
    version = verified_version(clock, kube, name)
    service = serve(clock, kube)
    url, row, answer = ask(clock, kube)
    first_answer = time.monotonic() - applied
    requests = scraped(clock, cfg)
    return Result(job, job_seconds, version, service, url, row, answer, first_answer, requests)


def main() -> int:
    cfg = Config.from_env()
    clock = Clock()
    try:
        r = run(clock, cfg)
    except (DemoError, ClusterError) as exc:
        clock.say(f"FAILED: {exc}")
        print(f"logs: {cfg.logs}; `make demo-down` stops everything", file=sys.stderr)
        return 1
    metrics = (r.job.get("status") or {}).get("metrics") or {}
    digest = (r.version.get("status") or {}).get("digest")
    print(
        f"""
== lepton demo: done in {time.monotonic() - clock.began:.0f}s ==
  TrainingJob {JOB}  Succeeded in {r.job_seconds:.0f}s, loss {metrics.get("loss")}, \
epochs {metrics.get("epoch")}
  ModelVersion {r.version["metadata"]["name"]:<12} Ready, digest {digest}
  InferenceService          {r.service["status"].get("phase")} at {r.service["status"].get("url")}
  answer (POST {r.url}) for x=[{r.row[0]}..{r.row[-1]}]: {[round(v, 4) for v in r.answer]} \
(class {r.answer.index(max(r.answer))})
  TrainingJob apply -> first answer: {r.first_answer_seconds:.0f}s
  Prometheus: lepton_serving_requests_total{{model="classifier",code="200"}} = {r.requests:g}

Look around:
  eval "$(make -s kubectl)"; kubectl -n {NAMESPACE} get tj,mv,lisvc,pods -o wide
  kubectl -n {NAMESPACE} logs {JOB}-worker-0
  Prometheus: {cfg.prometheus_url}/api/v1/targets   operator log: {cfg.logs / (OPERATOR + ".log")}
  make demo-down      # stops the operator and the cluster
"""
    )
    return 0


def down() -> int:
    cfg = Config.from_env()
    if procs.stop(cfg.run, OPERATOR):
        print("operator stopped")
    cluster.down(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(down() if sys.argv[1:] == ["down"] else main())
