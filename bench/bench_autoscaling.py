"""Autoscaling reaction times (issue #12): Lepton's autoscaler against KEDA's Prometheus scaler
driving the local cluster's own HPA controller, on one cluster, one Prometheus, one load.

One real `lepton-serve` process is the metric source. Prometheus scrapes it with the labels the
pod scrape job would give the service's pods (`namespace`, `service`), so both scalers read the
SAME series through the SAME PromQL and threshold (AverageValue, as both default to):

  (a) an InferenceService with spec.autoscaling (metric custom = the query, target T, pollSeconds
      5 by default) reconciled by the Lepton operator (`python -m lepton`);
  (b) a plain Deployment of the same shape scaled by a KEDA v2.21.0 ScaledObject (prometheus
      trigger; KEDA's defaults: pollingInterval 30 s, the controller manager's HPA sync 15 s, HPA's
      default behavior) with KEDA's operator and metrics API server run on the host.

Both get the same scaleDown stabilisation window (--down-window, so that a step can follow the last
one within a minute, not HPA's default 300 s); everything else is each scaler's default.

Per load step (base load -> step load, --steps of them, each after a random delay so that the step
does not fall at a fixed phase of either loop): from the query first crossing T x replicas x 1.1 in
Prometheus (sampled every 0.5 s) to the scaled Deployment's spec.replicas changing ("written"), to
it reaching the replicas the step needs, and to that many replicas Ready. The replicas are KWOK pods,
which turn Ready as soon as they are scheduled, and which serve nothing: the p99 latency "back under
target" cannot be observed here, so its proxy is the time until the needed replicas are Ready.
Then flips (spec.replicas changes) under a noisy steady load, and scale-from-zero: decision (crossing
-> replicas written), scheduling (-> pod bound), Ready (KWOK), and the model server's own model load
and first inference, measured on a fresh `lepton-serve` on this host (the same for both scalers).

KEDA's metrics API server is reached by the HPA controller through the API server's aggregation
layer. The local cluster's kube-apiserver has no --proxy-client-cert-file, so the aggregator calls
it without a client certificate: the requests arrive anonymous and this benchmark grants
system:anonymous read access to external.metrics.k8s.io on its own cluster (see
bench/README-autoscaling.md). If KEDA is not built (e2e/tools/keda/build.sh) or does not come up,
the script measures Lepton only and prints KEDA's documented loop periods, labelled as such.

    python bench/bench_autoscaling.py [--steps 5] [--target 4] [--flip-seconds 120] [--keep]

Runs on a cluster of its own: state in /tmp/lepton-cluster-keda, every port +4000 (see bench_env).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
E2E = REPO / "e2e"
PATHS = [str(p) for p in (E2E, REPO / "operator", REPO / "tests", REPO / "tests" / "integration" / "serving")]
sys.path[:0] = PATHS
# The operator and lepton-serve run as subprocesses: they must import this tree's lepton, not the one
# the virtual environment may have installed (editable) from another checkout.
os.environ["PYTHONPATH"] = os.pathsep.join([*PATHS, *filter(None, [os.environ.get("PYTHONPATH")])])

import httpx  # noqa: E402
import torch  # noqa: E402
from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402
from servekit import inference_service, model_version  # noqa: E402

from lepton.artifacts import MLPClassifier, save_artifact  # noqa: E402
from localcluster import procs  # noqa: E402
from localcluster.config import Config, Ports  # noqa: E402
from support.operator import running_operator  # noqa: E402
from support.ports import free_port  # noqa: E402
from support.servers import Server, kill, launch  # noqa: E402
from support.wait import wait_for  # noqa: E402

GROUP, VERSION = "lepton.ai", "v1alpha1"
NAMESPACE = "bench"
LEPTON = "lep"  # the InferenceService; its Deployment is lep-v1
LEPTON_DEPLOYMENT = f"{LEPTON}-v1"
KEDA = "keda-target"  # the plain Deployment the ScaledObject scales
MODEL = "iris"
KEDA_VERSION = "v2.21.0"
# The series both scalers read: requests per second of the service over 10 s (two samples at the
# cluster's 2 s scrape interval are enough; short, so a step shows in seconds). The placeholders are
# Lepton's custom-query syntax; KEDA gets the query with them filled in.
QUERY = 'sum(rate(lepton_serving_requests_total{namespace="{{namespace}}",service="{{service}}"}[10s]))'
TOLERANCE = 0.1  # Lepton's and HPA's default
INPUT = {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [0.0] * 16}]}

# Documented loop periods, for when KEDA cannot run here (keda.sh/docs/2.21/reference/scaledobject-spec,
# kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager).
KEDA_DOCUMENTED = {
    "source": "documented defaults, NOT measured",
    "keda_polling_interval_s": 30,
    "hpa_sync_period_s": 15,
    "from_zero_decision_s": "up to 30 (KEDA's polling loop activates 0 -> 1)",
    "active_decision_s": "up to 15 (HPA sync) plus the metric's lag; ~15-30 s in practice",
    "worst_case_s": "up to ~45 (30 s polling + 15 s HPA sync)",
}


def bench_env() -> dict[str, str]:
    """The cluster this benchmark owns: its own state dir and every port +4000 (the default cluster
    and those at +2000 and +3000 belong to other benchmarks and tests)."""
    env = {
        "LEPTON_CLUSTER_DIR": "/tmp/lepton-cluster-keda",
        "GPU_NODES": "0",
        "CPU_NODES": "2",
        "PROMETHEUS": "1",
    }
    for name in Ports.__dataclass_fields__:
        env[f"LEPTON_PORT_{name.upper()}"] = str(getattr(Ports(), name) + 4000)
    return env


def localcluster(command: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(E2E)}
    subprocess.run([sys.executable, "-m", "localcluster", command], env=env, check=True)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values): with 5 samples p95 is the largest."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)


def summary(values: list[float | None]) -> dict[str, Any]:
    seen = [v for v in values if v is not None]
    return {
        "p50": percentile(seen, 50),
        "p95": percentile(seen, 95),
        "n": len(seen),
        "missed": len(values) - len(seen),
        "each": [None if v is None else round(v, 2) for v in values],
    }


# --- the load -----------------------------------------------------------------------------------


class Load:
    """Requests to the real model server at a rate that can be changed while it runs; with `noise`,
    the rate is redrawn every 2 s within +/- that fraction (the noisy steady load)."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/v2/models/{MODEL}/infer"
        self.rate, self.noise, self.failures, self.sent = 0.0, 0.0, 0, 0
        self._rng = random.Random(12)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="load")

    def set(self, rate: float, noise: float = 0.0) -> None:
        self.rate, self.noise = rate, noise

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            next_at, redraw_at, rate = time.monotonic(), 0.0, 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= redraw_at:
                    rate = self.rate * (1 + self._rng.uniform(-self.noise, self.noise))
                    redraw_at = now + 2.0
                if rate <= 0:
                    next_at = now + 0.1  # idle: re-check the set rate, no catch-up burst after
                    self._stop.wait(0.1)
                    continue
                try:
                    ok = http.post(self.url, json=INPUT).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.sent += 1
                self.failures += 0 if ok else 1
                # A fixed schedule keeps the mean rate when one request is slow; never more than a
                # second of catch-up, so a stall does not become a burst.
                next_at = max(next_at + 1.0 / rate, time.monotonic() - 1.0)
                self._stop.wait(max(0.0, next_at - time.monotonic()))


# --- what the benchmark watches ------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    value: float | None = None  # the query in Prometheus
    replicas: dict[str, tuple[int, int]] = field(default_factory=dict)  # spec, ready per Deployment


class Watcher:
    """Samples the query in Prometheus every 0.5 s and the Deployments' spec/ready replicas and
    their pods' binding every 0.25 s (the benchmark's own sampling periods), each in a thread."""

    def __init__(self, prometheus: str, query: str, apps: client.AppsV1Api, core: client.CoreV1Api) -> None:
        self.prometheus, self.query, self.apps, self.core = prometheus, query, apps, core
        self.values: list[tuple[float, float | None]] = []
        self.replicas: list[tuple[float, dict[str, tuple[int, int]]]] = []
        self.bound: dict[str, float] = {}  # pod name -> first seen with a node
        self.pod_owner: dict[str, str] = {}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._prom, daemon=True, name="prom"),
            threading.Thread(target=self._kube, daemon=True, name="kube"),
        ]

    def __enter__(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def value(self) -> float | None:
        rsp = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": self.query}, timeout=5)
        result = rsp.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def _prom(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.values.append((began, self.value()))
            except (httpx.HTTPError, KeyError, ValueError):
                self.values.append((began, None))
            self._stop.wait(max(0.0, 0.5 - (time.monotonic() - began)))

    def _kube(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                deployments = self.apps.list_namespaced_deployment(NAMESPACE).items
                pods = self.core.list_namespaced_pod(NAMESPACE).items
            except ApiException:
                self._stop.wait(0.25)
                continue
            now = time.monotonic()
            self.replicas.append(
                (
                    now,
                    {
                        d.metadata.name: (int(d.spec.replicas or 0), int(d.status.ready_replicas or 0))
                        for d in deployments
                    },
                )
            )
            for pod in pods:
                owner = (pod.metadata.labels or {}).get("bench.lepton.ai/deployment") or (
                    LEPTON_DEPLOYMENT if (pod.metadata.labels or {}).get("lepton.ai/inferenceservice") else ""
                )
                self.pod_owner.setdefault(pod.metadata.name, owner)
                if pod.spec.node_name and pod.metadata.name not in self.bound:
                    self.bound[pod.metadata.name] = now
            self._stop.wait(max(0.0, 0.25 - (time.monotonic() - began)))

    def now(self, name: str) -> tuple[int, int]:
        return self.replicas[-1][1].get(name, (-1, -1)) if self.replicas else (-1, -1)

    def last_value(self) -> float | None:
        return self.values[-1][1] if self.values else None

    def crossing(self, since: float, above: float) -> float | None:
        return next((t for t, v in self.values if t >= since and v is not None and v > above), None)

    def first(self, name: str, since: float, test: Callable[[int, int], bool]) -> float | None:
        return next((t for t, r in self.replicas if t >= since and name in r and test(*r[name])), None)

    def changes(self, name: str, since: float, until: float) -> int:
        seen = [r[name][0] for t, r in self.replicas if since <= t <= until and name in r]
        return sum(1 for a, b in itertools.pairwise(seen) if a != b)

    def first_bound(self, name: str, since: float) -> float | None:
        times = [t for pod, t in self.bound.items() if self.pod_owner.get(pod) == name and t >= since]
        return min(times) if times else None


# --- KEDA on the host ------------------------------------------------------------------------------


def keda_bin() -> Path | None:
    """The built binaries, or None (with the reason printed) when e2e/tools/keda/build.sh has not
    built them: this benchmark does not start a 15-30 min build itself."""
    script = E2E / "tools" / "keda" / "build.sh"
    out = subprocess.run([str(script), "--print"], capture_output=True, text=True, check=False)
    path = Path(out.stdout.strip())
    if out.returncode == 0 and (path / "keda").is_file() and (path / "keda-adapter").is_file():
        return path
    print(f"KEDA not built (no binaries in {path}); run {script}", file=sys.stderr)
    return None


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def keda_certs(home: Path) -> Path:
    """ca.crt, tls.crt and tls.key as KEDA mounts them at /certs: the operator's gRPC metrics
    service and the adapter use them for mutual TLS on 127.0.0.1, the adapter also to serve."""
    certs = home / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(certs / "ca.key"))
    openssl("req", "-x509", "-new", "-key", str(certs / "ca.key"), "-subj", "/CN=keda-bench-ca",
            "-days", "2", "-out", str(certs / "ca.crt"))  # fmt: skip
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(certs / "tls.key"))
    openssl(
        "req", "-new", "-key", str(certs / "tls.key"), "-subj", "/CN=keda", "-out", str(certs / "tls.csr")
    )
    (certs / "tls.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:keda-operator.keda.svc,"
        "DNS:keda-metrics-apiserver.keda.svc\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    openssl("x509", "-req", "-in", str(certs / "tls.csr"), "-CA", str(certs / "ca.crt"),
            "-CAkey", str(certs / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(certs / "tls.ext"), "-out", str(certs / "tls.crt"))  # fmt: skip
    return certs


def kubectl_apply(kubectl: Path, kubeconfig: Path, manifest: str | Path) -> None:
    args = [str(kubectl), f"--kubeconfig={kubeconfig}", "apply", "--server-side", "--force-conflicts"]
    if isinstance(manifest, Path):
        subprocess.run([*args, "-f", str(manifest)], check=True, capture_output=True, text=True)
    else:
        subprocess.run([*args, "-f", "-"], input=manifest, check=True, capture_output=True, text=True)


def keda_cluster_objects(adapter_port: int) -> list[dict[str, Any]]:
    """What the Helm chart would install beside the pods, for host processes: the namespace, the
    APIService pointing (through an ExternalName Service, which the aggregator resolves by name) at
    the adapter on 127.0.0.1, and the anonymous read access the aggregator's unauthenticated calls
    need (see the module docstring)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "keda-metrics-apiserver", "namespace": "keda"},
            "spec": {"type": "ExternalName", "externalName": "localhost", "ports": [{"port": adapter_port}]},
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "insecureSkipTLSVerify": True,
                "service": {"name": "keda-metrics-apiserver", "namespace": "keda", "port": adapter_port},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "bench-external-metrics-anonymous"},
            "rules": [
                {"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": ["get", "list"]},
                {"nonResourceURLs": ["/apis", "/apis/*", "/openapi", "/openapi/*"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "bench-external-metrics-anonymous"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "bench-external-metrics-anonymous",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}
            ],
        },
    ]


@dataclass
class KedaRun:
    adapter_port: int
    error: str | None = None


def start_keda(cfg: Config, kubectl: Path, bin_dir: Path) -> KedaRun:
    """KEDA's CRDs, cluster objects, operator and metrics API server (pid files in the cluster's run
    dir, so `localcluster down` stops them too); waits until the APIService is Available."""
    run = KedaRun(adapter_port=free_port())
    home = cfg.state_dir / "keda"
    certs = keda_certs(home)
    crds = subprocess.run(
        [str(E2E / "tools" / "keda" / "build.sh"), "--crds"], capture_output=True, text=True, check=True
    ).stdout.strip()
    kubectl_apply(kubectl, cfg.kubeconfig, Path(crds))
    # The operator's watches start once: CRDs not yet Established make its first start log errors.
    subprocess.run(
        [str(kubectl), f"--kubeconfig={cfg.kubeconfig}", "wait", "--for=condition=Established",
         "--timeout=60s", "-f", crds],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    kubectl_apply(
        kubectl, cfg.kubeconfig, "\n---\n".join(json.dumps(o) for o in keda_cluster_objects(run.adapter_port))
    )
    grpc = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "KUBECONFIG": str(cfg.kubeconfig),
        "WATCH_NAMESPACE": "",
        "POD_NAMESPACE": "keda",
        "KEDA_CLUSTER_OBJECT_NAMESPACE": "keda",
    }
    procs.start(cfg.run, cfg.logs, "keda-operator", [
        str(bin_dir / "keda"),
        f"--metrics-bind-address=127.0.0.1:{free_port()}",
        f"--health-probe-bind-address=127.0.0.1:{free_port()}",
        f"--metrics-service-bind-address={grpc}",
        f"--cert-dir={certs}",
        "--enable-webhook-patching=false",
        "--enable-apiservice-patching=false",
        "--zap-log-level=info",
    ], env)  # fmt: skip
    procs.start(cfg.run, cfg.logs, "keda-adapter", [
        str(bin_dir / "keda-adapter"),
        f"--secure-port={run.adapter_port}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={certs}",
        f"--tls-cert-file={certs / 'tls.crt'}",
        f"--tls-private-key-file={certs / 'tls.key'}",
        f"--metrics-service-address={grpc}",
        f"--port={free_port()}",
        f"--lister-kubeconfig={cfg.kubeconfig}",
        f"--authentication-kubeconfig={cfg.kubeconfig}",
        f"--authorization-kubeconfig={cfg.kubeconfig}",
    ], env)  # fmt: skip
    registration = client.ApiregistrationV1Api()

    def available() -> bool:
        for name in ("keda-operator", "keda-adapter"):
            pid = procs.read_pid(cfg.run, name)
            if pid is None or not procs.alive(pid):
                raise RuntimeError(f"{name} exited:\n{procs.tail(cfg.logs / f'{name}.log', 25)}")
        conditions = registration.read_api_service("v1beta1.external.metrics.k8s.io").status.conditions or []
        return any(c.type == "Available" and c.status == "True" for c in conditions)

    def seen() -> object:
        svc = registration.read_api_service("v1beta1.external.metrics.k8s.io")
        return [(c.type, c.status, c.message) for c in svc.status.conditions or []]

    try:
        wait_for(available, 120, "KEDA's external metrics APIService to be Available", seen=seen)
    except (AssertionError, RuntimeError) as exc:
        run.error = str(exc)
    return run


def keda_objects(query: str, target: float, max_replicas: int, down_window: int) -> list[dict[str, Any]]:
    """The plain Deployment (the shape of Lepton's server Deployment: one container, the same
    requests) and its ScaledObject with KEDA's defaults but the shared scaleDown window."""
    labels = {"app": KEDA, "bench.lepton.ai/deployment": KEDA}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": KEDA, "namespace": NAMESPACE},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": KEDA}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "lepton/server:test",
                            "ports": [{"containerPort": 8080}],
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                        }
                    ],
                },
            },
        },
    }
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": KEDA, "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"name": KEDA},
            "minReplicaCount": 1,
            "maxReplicaCount": max_replicas,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": down_window}}
                }
            },
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {"serverAddress": "", "query": query, "threshold": f"{target:g}"},
                }
            ],
        },
    }
    return [deployment, scaled]


# --- the run ---------------------------------------------------------------------------------------


@contextmanager
def model_server(home: Path) -> Iterator[tuple[Server, Path]]:
    torch.manual_seed(0)
    artifact = home / "model"
    save_artifact(MLPClassifier(16, 32, 4), artifact, example_input=torch.randn(2, 16))
    server = launch(artifact, home, name=MODEL)
    try:
        yield server, artifact
    finally:
        kill(server)


def model_load_and_first_inference(artifact: Path, home: Path) -> dict[str, float]:
    """What a new replica spends before its first answer, on this host: process start -> ready
    (model load) and the first inference request."""
    began = time.monotonic()
    server = launch(artifact, home, name=MODEL)
    try:
        loaded = time.monotonic()
        httpx.post(f"{server.url}/v2/models/{MODEL}/infer", json=INPUT, timeout=30).raise_for_status()
        answered = time.monotonic()
    finally:
        kill(server)
    return {"model_load_s": round(loaded - began, 2), "first_inference_s": round(answered - loaded, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="load steps (N)")
    parser.add_argument("--target", type=float, default=4.0, help="requests/s per replica (T)")
    parser.add_argument("--base", type=float, default=0.6, help="base load, in T (1 replica)")
    parser.add_argument("--step", type=float, default=3.5, help="step load, in T (ceil -> replicas)")
    parser.add_argument("--max-replicas", type=int, default=8)
    parser.add_argument("--down-window", type=int, default=30, help="scaleDown stabilisation (both)")
    parser.add_argument("--flip-seconds", type=int, default=120, help="noisy steady load duration")
    parser.add_argument("--noise", type=float, default=0.25, help="noise of the steady load, +/-")
    parser.add_argument("--no-keda", action="store_true", help="measure Lepton only")
    parser.add_argument("--no-zero", action="store_true", help="skip scale-from-zero")
    parser.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    os.environ.update(bench_env())
    cfg = Config.from_env()
    localcluster("up")
    try:
        return run(cfg, args)
    finally:
        if not args.keep:
            localcluster("down")


def run(cfg: Config, args: argparse.Namespace) -> int:
    from localcluster.cluster import tools_dir

    kubectl = tools_dir() / "kubectl"
    config.load_kube_config(str(cfg.kubeconfig))
    apps, core, custom = client.AppsV1Api(), client.CoreV1Api(), client.CustomObjectsApi()
    kubectl_apply(kubectl, cfg.kubeconfig, REPO / "crds")
    kubectl_apply(kubectl, cfg.kubeconfig, json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": NAMESPACE}}))  # fmt: skip
    home = cfg.state_dir / "bench"
    home.mkdir(parents=True, exist_ok=True)
    query = QUERY.replace("{{namespace}}", NAMESPACE).replace("{{service}}", LEPTON)
    T = args.target
    step_replicas = min(math.ceil(args.step), args.max_replicas)
    loadavg_before = os.getloadavg()

    keda_error: str | None = "not run (--no-keda)" if args.no_keda else None
    bin_dir = None if args.no_keda else keda_bin()
    if not args.no_keda and bin_dir is None:
        keda_error = "KEDA binaries not built (e2e/tools/keda/build.sh)"
    if bin_dir is not None:
        keda = start_keda(cfg, kubectl, bin_dir)
        keda_error = keda.error

    env = {
        "LEPTON_VERIFY_TTL_SECONDS": "600",
        "LEPTON_CLUSTER_DOMAIN": "cluster.local",
        "LEPTON_LOG_LEVEL": "info",
    }
    with (
        model_server(home) as (server, artifact),
        running_operator(str(cfg.kubeconfig), home / "lepton-operator.log", env),
    ):
        host_port = server.url.removeprefix("http://")
        (cfg.prometheus_targets / "bench.json").write_text(
            json.dumps([{"targets": [host_port], "labels": {"namespace": NAMESPACE, "service": LEPTON}}])
        )
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions",
                                               model_version(MODEL, "v1"))  # fmt: skip
        wait_for(
            lambda: (custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions",
                                                         f"{MODEL}-v1").get("status") or {}).get("phase")
            == "Ready",
            60, f"ModelVersion {MODEL}-v1 Ready",
        )  # fmt: skip
        autoscaling = {
            "minReplicas": 1,
            "maxReplicas": args.max_replicas,
            "metric": "custom",
            "query": QUERY,
            "target": T,
            "prometheusUrl": cfg.prometheus_url,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": args.down_window}},
        }
        isvc = inference_service(LEPTON, MODEL, replicas=1, autoscaling=autoscaling)
        isvc["spec"]["server"]["resources"] = {"requests": {"cpu": "500m", "memory": "1Gi"}}
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "inferenceservices", isvc)
        scalers = [LEPTON_DEPLOYMENT]
        if keda_error is None:
            deployment, scaled = keda_objects(query, T, args.max_replicas, args.down_window)
            scaled["spec"]["triggers"][0]["metadata"]["serverAddress"] = cfg.prometheus_url
            apps.create_namespaced_deployment(NAMESPACE, deployment)
            custom.create_namespaced_custom_object("keda.sh", "v1alpha1", NAMESPACE, "scaledobjects", scaled)
            scalers.append(KEDA)

        with Load(server.url) as load, Watcher(cfg.prometheus_url, query, apps, core) as watch:
            result = measure(args, cfg, watch, load, scalers, custom, step_replicas, artifact, home)
            failures = load.failures

    result["keda"] = (
        {"source": f"measured: KEDA {KEDA_VERSION} operator + metrics API server on the host"}
        if keda_error is None
        else {"error": keda_error, **KEDA_DOCUMENTED}
    )
    result["setup"] = {
        "query": QUERY,
        "target_rps_per_replica": T,
        "base_rps": round(args.base * T, 2),
        "step_rps": round(args.step * T, 2),
        "step_replicas": step_replicas,
        "lepton_poll_seconds": 5,
        "keda_polling_interval_s": 30,
        "hpa_sync_period_s": 15,
        "scale_down_window_s": args.down_window,
        "prometheus_scrape_interval": cfg.scrape_interval,
        "load_failures": failures,
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "ready_note": "KWOK pods turn Ready as soon as they are bound: Ready times are scheduling times",
        "p99_note": "replicas serve nothing on KWOK: 'p99 back under target' is proxied by the step's "
        "replicas all Ready",
    }
    print(json.dumps(result, indent=2))
    return 0


def settle(watch: Watcher, scalers: list[str], replicas: int, timeout: float, what: str) -> None:
    wait_for(
        lambda: all(watch.now(name) == (replicas, replicas) for name in scalers),
        timeout,
        f"{', '.join(scalers)} at {replicas} replicas, all Ready ({what})",
        seen=lambda: {name: watch.now(name) for name in scalers} | {"query": watch.last_value()},
    )


def measure(
    args: argparse.Namespace,
    cfg: Config,
    watch: Watcher,
    load: Load,
    scalers: list[str],
    custom: client.CustomObjectsApi,
    step_replicas: int,
    artifact: Path,
    home: Path,
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    steps: dict[str, dict[str, list[float | None]]] = {
        name: {"written": [], "step_replicas_written": [], "ready": []} for name in scalers
    }
    crossings: list[float] = []
    flips: dict[str, int] = {}
    zero: dict[str, Any] = {}
    errors: list[str] = []
    # A bounded wait that fails ends the measurement there: what was measured so far is still
    # printed, with the failure (what was expected, what was seen) under "errors".
    try:
        load_steps(args, watch, load, scalers, step_replicas, rng, steps, crossings)
        flips.update(noisy_flips(args, watch, load, scalers))
        if not args.no_zero:
            zero = scale_from_zero(args, watch, load, scalers, custom, artifact, home, rng)
    except AssertionError as exc:
        errors.append(str(exc))
    load.set(0)

    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "steps": args.steps,
        "crossing_after_load_step_s": summary(list(crossings)),
    }
    for name in scalers:
        label = "lepton" if name == LEPTON_DEPLOYMENT else "keda_hpa"
        out[label] = {
            "crossing_to_replicas_written_s": summary(steps[name]["written"]),
            "crossing_to_step_replicas_written_s": summary(steps[name]["step_replicas_written"]),
            "crossing_to_step_replicas_ready_s": summary(steps[name]["ready"]),
            "flips_under_noisy_steady_load": flips.get(name),
            "flip_window_s": args.flip_seconds,
            **({"scale_from_zero": zero[name]} if name in zero else {}),
        }
    if "keda_hpa" in out:
        lep, kh = out["lepton"], out["keda_hpa"]
        out["ratio_keda_over_lepton"] = {
            key: round(kh[key]["p50"] / lep[key]["p50"], 1) if lep[key]["p50"] and kh[key]["p50"] else None
            for key in ("crossing_to_replicas_written_s", "crossing_to_step_replicas_written_s")
        }
    if "host" in zero:
        out["scale_from_zero_host"] = zero["host"]
    if errors:
        out["errors"] = errors
    return out


def load_steps(
    args: argparse.Namespace,
    watch: Watcher,
    load: Load,
    scalers: list[str],
    step_replicas: int,
    rng: random.Random,
    steps: dict[str, dict[str, list[float | None]]],
    crossings: list[float],
) -> None:
    T = args.target
    load.set(args.base * T)
    # Both at 1, and the query in Prometheus at the base load, before the first step.
    wait_for(lambda: (watch.last_value() or 0) > 0, 60, "the query to have a value in Prometheus",
             seen=watch.last_value)  # fmt: skip
    settle(watch, scalers, 1, 180, "before the first step")
    for i in range(args.steps):
        # A random phase against both loops (Lepton's 5 s poll, HPA's 15 s sync): the wait before a
        # step is part of the benchmark's sampling, not a synchronisation.
        time.sleep(rng.uniform(0, 15))
        began = time.monotonic()
        load.set(args.step * T)
        threshold = T * 1 * (1 + TOLERANCE)
        crossed = wait_for(
            lambda th=threshold, b=began: watch.crossing(b, th),
            60,
            f"step {i + 1}: the query above {threshold:g} after the load step",
            seen=watch.last_value,
        )
        crossings.append(crossed - began)
        settle(watch, scalers, step_replicas, 150, f"step {i + 1}")
        for name in scalers:
            written = watch.first(name, began, lambda spec, ready: spec != 1)
            full = watch.first(name, began, lambda spec, ready: spec >= step_replicas)
            ready = watch.first(name, began, lambda spec, ready: ready >= step_replicas)
            for key, at in (("written", written), ("step_replicas_written", full), ("ready", ready)):
                steps[name][key].append(None if at is None else at - crossed)
        load.set(args.base * T)
        settle(watch, scalers, 1, 180, f"after step {i + 1}")


def noisy_flips(args: argparse.Namespace, watch: Watcher, load: Load, scalers: list[str]) -> dict[str, int]:
    """Replica changes under a noisy load around twice the target. Both settle at 2 under the
    steady load first, so that the count starts from the same place for both."""
    load.set(2 * args.target)
    settle(watch, scalers, 2, 180, "under the steady load of 2 replicas")
    load.set(2 * args.target, noise=args.noise)
    began = time.monotonic()
    time.sleep(args.flip_seconds)  # the observation period itself
    return {name: watch.changes(name, began, time.monotonic()) for name in scalers}


def scale_from_zero(
    args: argparse.Namespace,
    watch: Watcher,
    load: Load,
    scalers: list[str],
    custom: client.CustomObjectsApi,
    artifact: Path,
    home: Path,
    rng: random.Random,
) -> dict[str, Any]:
    """Both allowed to zero after 30 s idle (Lepton: scaleToZero.idleSeconds, its minimum; KEDA:
    cooldownPeriod), silence until both are at zero, then the base load."""
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "inferenceservices", LEPTON,
        {"spec": {"autoscaling": {"minReplicas": 0, "scaleToZero": {"idleSeconds": 30}}}},
    )  # fmt: skip
    if KEDA in scalers:
        custom.patch_namespaced_custom_object(
            "keda.sh", "v1alpha1", NAMESPACE, "scaledobjects", KEDA,
            {"spec": {"minReplicaCount": 0, "cooldownPeriod": 30}},
        )  # fmt: skip
    load.set(0)
    settle(watch, scalers, 0, 300, "silence, scaled to zero")
    time.sleep(rng.uniform(0, 15))  # a random phase against both loops, as for the steps
    began = time.monotonic()
    load.set(args.base * args.target)
    crossed = wait_for(lambda: watch.crossing(began, 0.0), 60, "the query above 0 after silence",
                       seen=watch.last_value)  # fmt: skip
    settle(watch, scalers, 1, 120, "woken from zero")
    out: dict[str, Any] = {"crossing_after_load_s": round(crossed - began, 2)}
    for name in scalers:
        written = watch.first(name, began, lambda spec, ready: spec >= 1)
        bound = watch.first_bound(name, began)
        ready = watch.first(name, began, lambda spec, ready: ready >= 1)
        out[name] = {
            "decision_s": None if written is None else round(written - crossed, 2),
            "scheduling_s": None if bound is None or written is None else round(bound - written, 2),
            "ready_after_bound_s": None
            if ready is None or bound is None
            else round(max(0.0, ready - bound), 2),
        }
    # The model server's own part, on this host (KWOK pods run nothing): the same for both scalers.
    out["host"] = model_load_and_first_inference(artifact, home)
    return out


if __name__ == "__main__":
    shutil.which("openssl") or sys.exit("openssl is needed for KEDA's certificates")
    sys.exit(main())
