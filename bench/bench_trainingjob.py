"""TrainingJob controller figures on a cluster of its own (other state dir and ports, audit log on).

Throughput: N fake 8-GPU nodes, J jobs of 4 x 8 GPUs applied at once: apply -> all pods bound (per
job p50/p99 and total), pods bound per second, API requests per job (from the audit log, by user
agent), the operator's peak RSS.
Queueing: jobs needing twice a node pool's GPUs, each finishing after a set time (simulation hooks):
the share of the pool's GPU-time held by complete gangs (the only ones that make progress), with
Lepton's gang admission, and with the same pods created directly in random order (no admission).

    python bench/bench_trainingjob.py [--nodes 1000] [--jobs 200] [--pool 32] [--job-seconds 10]
        [--state-dir /tmp/lepton-bench-trainingjob] [--port-offset 2000]
        [--rounds N] [--trees CHECKOUT,CHECKOUT] [--split-cpus] [--rate JOBS_PER_S] [--no-queueing]
        [--keep]

Each round runs the ceilings (the jobs' pods created directly: as the template has them, and as the
operator would create them, see CEILINGS) and then each tree's operator, so trees are compared
against the same round's ceilings; the summary lists each tree's shares, p99 ratios and CPU ratios.
``--split-cpus`` gives the control plane a CPU of its own, as a cluster's control-plane nodes are:
without it, on a small machine the operator's own CPU is taken from the API server's.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
E2E = REPO / "e2e"
sys.path.insert(0, str(E2E))
sys.path.insert(0, str(REPO / "operator"))

from kubernetes import client, config  # noqa: E402
from kubernetes.watch.watch import iter_resp_lines  # noqa: E402

from lepton.api.trainingjob import TrainingJob  # noqa: E402
from lepton.builders.workers import construct_worker_pod  # noqa: E402
from localcluster import cluster  # noqa: E402
from localcluster.config import Config  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from benchkit import (  # noqa: E402
    Operator,
    audit_count,
    cluster_env,
    cpu_delta,
    cpu_seconds,
    install_crds,
    make_namespace,
    split_cpus,
    tear_down,
)

GROUP, VERSION = "lepton.ai", "v1alpha1"
POOL_LABEL = "bench.lepton.ai/pool"


def bench_env(nodes: int, state_dir: str, port_offset: int, profiling: bool = False) -> dict[str, str]:
    return cluster_env(
        state_dir,
        port_offset,
        GPU_NODES=str(nodes),
        CPU_NODES="0",
        PROMETHEUS="0",
        LEPTON_AUDIT="1",
        LEPTON_APISERVER_PROFILING="1" if profiling else "0",
    )


def profile_apiserver(cfg: Config, out: Path, seconds: int) -> subprocess.Popen[bytes]:
    """The API server's CPU profile over the next ``seconds`` (pprof format, into ``out``; read it
    with `go tool pprof -top`), taken beside a run. The cluster must have been made with profiling
    on (--apiserver-profile): without it the API server answers 404 and the file stays empty."""
    kubectl = [str(cluster.tools_dir() / "kubectl"), "--kubeconfig", str(cfg.kubeconfig)]
    with out.open("wb") as sink:
        return subprocess.Popen(
            [*kubectl, "get", "--raw", f"/debug/pprof/profile?seconds={seconds}"], stdout=sink
        )


def job_body(
    name: str, *, replicas: int, gpus: int, annotations: dict[str, str], selector: dict[str, str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [
            {
                "name": "trainer",
                "image": "lepton/trainer:bench",
                "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
            }
        ],
    }
    if selector:
        spec["nodeSelector"] = selector
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"metadata": {"annotations": annotations}, "spec": spec}},
    }


def wait_settled(api: client.ApiClient, timeout: float = 900) -> float:
    """Wait until no node carries a node.kubernetes.io/ taint; returns the seconds waited.

    New nodes are Ready within seconds, but the node controller removes their not-ready taint at
    its client's rate (about 10 nodes/s): until it is done the scheduler finds few feasible nodes
    and binds only a few pods per second, whoever creates them. Figures taken before that measure
    the controller-manager, not the pods' creator.
    """
    core = client.CoreV1Api(api)
    began = time.monotonic()
    while True:
        tainted = sum(
            1
            for node in core.list_node().items
            if any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints or [])
        )
        if not tainted:
            return round(time.monotonic() - began, 1)
        if time.monotonic() - began > timeout:
            raise SystemExit(f"{tainted} nodes still tainted after {timeout:g}s")
        time.sleep(2)


class BindWatch(threading.Thread):
    """When each pod of a namespace was first seen bound to a node, from a watch (resumed from the
    last resourceVersion whenever the loaded API server ends it, listed again only if that is too
    old), started before the first create. A watch costs the API server far less than listing the
    namespace every half second, which took more of its CPU the slower a run was, and it times each
    bind to the event rather than to the next poll. Raw JSON: the typed client's models cost the
    bench's CPU, which it shares with the operator."""

    def __init__(self, core: client.CoreV1Api, namespace: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.core, self.namespace, self.expected = core, namespace, expected
        self.bound: dict[str, float] = {}
        self.created: dict[str, float] = {}  # when each pod was first seen at all
        self.error: Exception | None = None
        self.done = threading.Event()

    def _see(self, pod: dict[str, Any], at: float) -> None:
        name = pod["metadata"]["name"]
        self.created.setdefault(name, at)
        if pod.get("spec", {}).get("nodeName") and name not in self.bound:
            self.bound[name] = at

    def run(self) -> None:
        try:
            version = None
            while len(self.bound) < self.expected and not self.done.is_set():
                if version is None:
                    raw = self.core.list_namespaced_pod(self.namespace, _preload_content=False)
                    listed = json.loads(raw.data)
                    at = time.time()
                    for pod in listed["items"]:
                        self._see(pod, at)
                    version = listed["metadata"]["resourceVersion"]
                response = self.core.list_namespaced_pod(
                    self.namespace,
                    watch=True,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=60,
                    _preload_content=False,
                )
                for line in iter_resp_lines(response):
                    event = json.loads(line)
                    if event["type"] == "ERROR":  # 410 Gone: the version is too old, list again
                        version = None
                        break
                    version = event["object"]["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":  # a bookmark's object carries its version only
                        self._see(event["object"], time.time())
                    if len(self.bound) >= self.expected:
                        break
                response.release_conn()
        except Exception as exc:  # handed to the caller by result()
            self.error = exc

    def result(self, timeout: float) -> dict[str, float]:
        self.join(timeout)
        self.done.set()
        if self.error is not None:
            raise SystemExit(f"watching the pods of {self.namespace} failed: {self.error!r}")
        if self.is_alive() or len(self.bound) < self.expected:
            raise SystemExit(f"only {len(self.bound)} of {self.expected} pods bound after {timeout:g}s")
        return self.bound


# The ceilings: each job's 4 pods created directly by the benchmark, no operator running.
# "plain": the template's pod as the user wrote it (329 bytes); "same pods": the pods the operator
# would create for the job (rendezvous environment, restricted security context, DNS name, pinned to
# the node admission would place it on; 2.2 KB), so the ceiling pays what the pods themselves cost.
CEILINGS = ("plain", "same pods")


def ceiling_pod(kind: str, body: dict[str, Any], namespace: str, job: int, replica: int) -> dict[str, Any]:
    """Pod ``replica`` of the job ``body`` as ceiling ``kind`` creates it."""
    if kind == "plain":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{body['metadata']['name']}-worker-{replica}"},
            "spec": {**body["spec"]["template"]["spec"], "restartPolicy": "Never"},
        }
    meta = {**body["metadata"], "namespace": namespace, "uid": f"bench-{job}", "generation": 1}
    trainingjob = TrainingJob.model_validate({**body, "metadata": meta})
    pod = construct_worker_pod(trainingjob, replica, 0, place_on=f"lepton-gpu-{4 * job + replica}")
    # No TrainingJob owns them: the garbage collector would delete pods with a missing owner.
    pod["metadata"].pop("ownerReferences", None)
    return pod


def throughput(
    api: client.ApiClient,
    cfg: Config,
    jobs: int,
    *,
    ceiling: str = "",
    profile: Path | None = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Apply ``jobs`` TrainingJobs at once, or ``rate`` per second (or, with ``ceiling``, create their
    4 pods each directly, as that kind of ceiling does: CEILINGS) and time apply -> all pods bound;
    ``profile``: the API server's CPU profile over the first 8 s into that file. At a rate the
    cluster keeps up with, a job's latency is what admission adds to it, not its place in a burst's
    queue."""
    direct = bool(ceiling)  # a ceiling run: the pods created by this client
    namespace = "bench-plain" if direct else "bench-throughput"
    make_namespace(api, namespace)
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    expected = jobs * 4
    applied: dict[str, float] = {}
    bodies = [job_body(f"tput-{i:04d}", replicas=4, gpus=8, annotations={}, selector={}) for i in range(jobs)]
    # Built before the clock starts: building a pod like the operator's takes the client's CPU.
    pods = [
        [ceiling_pod(ceiling, body, namespace, i, r) for r in range(4)] if direct else []
        for i, body in enumerate(bodies)
    ]
    profiler = profile_apiserver(cfg, profile, 8) if profile else None
    watcher = BindWatch(core, namespace, expected)
    watcher.start()
    began = time.time()

    def apply(i: int) -> None:
        body = bodies[i]
        name = body["metadata"]["name"]
        if rate > 0:
            # The job arrives at its slot: a client thread late to it counts against the run.
            arrival = began + i / rate
            time.sleep(max(0.0, arrival - time.time()))
            applied[name] = arrival
        else:
            applied[name] = time.time()
        if not direct:
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainingjobs", body)
            return
        for pod in pods[i]:
            core.create_namespaced_pod(namespace, pod)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(apply, range(jobs)))
    bound = watcher.result(timeout=900)
    ended = time.time()
    per_job, to_pods, to_bound = [], [], []
    for name, at in applied.items():
        workers = [f"{name}-worker-{i}" for i in range(4)]
        last_created = max(watcher.created[w] for w in workers)
        last_bound = max(bound[w] for w in workers)
        per_job.append(last_bound - at)
        # Apply -> the job's pods exist (the operator's admission; a ceiling's own creates), then
        # -> bound (the scheduler's queue): where a job's latency goes.
        to_pods.append(last_created - at)
        to_bound.append(last_bound - last_created)
    p50, p99 = _p50_p99(per_job)
    time.sleep(3)  # let the audit log flush its last lines
    if profiler is not None:
        profiler.wait(timeout=60)
    requests = audit_count(cfg.state_dir / "audit.log", began, ended)
    total_requests = sum(requests.values())
    # The controller-manager works for the operator too: a Service's endpoints follow its pods.
    controllers = audit_count(cfg.state_dir / "audit.log", began, ended, {"kube-controller-manager": "kcm"})
    return {
        "mode": f"ceiling: {ceiling}" if direct else "trainingjobs",
        "jobs": jobs,
        "rate_jobs_per_s": rate or "all at once",
        "pods": expected,
        "total_s": round(ended - began, 2),
        "per_job_p50_s": p50,
        "per_job_p99_s": p99,
        "pods_bound_per_s": round(expected / (ended - began), 1),
        "apply_to_pods_p50_p99_s": _p50_p99(to_pods),
        "pods_to_bound_p50_p99_s": _p50_p99(to_bound),
        "controller_manager_requests_per_job": round(sum(controllers.values()) / jobs, 2),
        # Plain pods: the bench's own requests, which the audit count leaves out (4 per job).
        **(
            {}
            if direct
            else {
                "api_requests_per_job": round(total_requests / jobs, 2),
                "api_requests": dict(requests.most_common()),
            }
        ),
    }


def _p50_p99(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return round(statistics.median(ordered), 3), round(p99, 3)


def sample_gangs(core: client.CoreV1Api, namespace: str, gpus: int, replicas: int) -> tuple[int, int, int]:
    """(GPUs held by bound pods, GPUs of complete running gangs, finished jobs) right now."""
    pods = core.list_namespaced_pod(namespace).items
    running: collections.Counter[str] = collections.Counter()
    succeeded: collections.Counter[str] = collections.Counter()
    held = 0
    for pod in pods:
        job = pod.metadata.name.rsplit("-worker-", 1)[0]
        if pod.status.phase == "Succeeded":
            succeeded[job] += 1
        elif pod.spec.node_name and pod.metadata.deletion_timestamp is None:
            held += gpus
            running[job] += pod.status.phase == "Running"
    useful = sum(gpus * replicas for n in running.values() if n == replicas)
    return held, useful, sum(1 for n in succeeded.values() if n == replicas)


def queueing(
    api: client.ApiClient, *, mode: str, pool_nodes: int, seconds: float, window: float
) -> dict[str, Any]:
    namespace = f"bench-queue-{mode}"
    make_namespace(api, namespace)
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    capacity = pool_nodes * 8
    jobs = 2 * capacity // 32
    annotations = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": f"{seconds:g}s"}
    selector = {POOL_LABEL: "queue"}
    began = time.time()
    if mode == "gang":
        for i in range(jobs):
            body = job_body(f"q-{i:03d}", replicas=4, gpus=8, annotations=annotations, selector=selector)
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainingjobs", body)
    else:
        # Without admission, workers that started wait in the rendezvous for peers that may never be
        # scheduled: no exit hook, and pods created in random order as concurrent controllers would.
        order = [(i, r) for i in range(jobs) for r in range(4)]
        random.Random(7).shuffle(order)
        for i, r in order:
            template = job_body(f"q-{i:03d}", replicas=4, gpus=8, annotations={}, selector=selector)["spec"][
                "template"
            ]
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"q-{i:03d}-worker-{r}"},
                "spec": {**template["spec"], "restartPolicy": "Never"},
            }
            core.create_namespaced_pod(namespace, pod)
    held_integral = useful_integral = 0.0
    finished = 0
    last = time.time()
    while time.time() - began < window and finished < jobs:
        held, useful, finished = sample_gangs(core, namespace, 8, 4)
        now = time.time()
        held_integral += held * (now - last)
        useful_integral += useful * (now - last)
        last = now
        time.sleep(0.5)
    elapsed = last - began
    return {
        "mode": mode,
        "jobs": jobs,
        "pool_gpus": capacity,
        "elapsed_s": round(elapsed, 1),
        "jobs_finished": finished,
        "useful_gpu_share": round(useful_integral / (capacity * elapsed), 3),
        "held_gpu_share": round(held_integral / (capacity * elapsed), 3),
    }


def drain(api: client.ApiClient, namespace: str) -> None:
    """Delete a namespace and wait until its pods are gone, so they hold no GPUs any more."""
    core = client.CoreV1Api(api)
    core.delete_namespace(namespace)
    deadline = time.monotonic() + 300
    while core.list_namespaced_pod(namespace, limit=1).items:
        if time.monotonic() > deadline:
            raise SystemExit(f"pods of {namespace} still there after 300s")
        time.sleep(1)
    # And the namespace itself, so a run on a kept cluster (--keep) can make it again.
    while any(ns.metadata.name == namespace for ns in core.list_namespace().items):
        if time.monotonic() > deadline:
            raise SystemExit(f"namespace {namespace} still there after 300s")
        time.sleep(1)


def ceiling_run(
    api: client.ApiClient, cfg: Config, jobs: int, kind: str, profile: Path | None, rate: float = 0.0
) -> dict[str, Any]:
    """The jobs' pods created directly (``kind``: CEILINGS), no operator running: what this cluster
    can bind, and the CPU its processes spent doing it."""
    before = cpu_seconds(cfg, -1)
    result = throughput(api, cfg, jobs, ceiling=kind, profile=profile, rate=rate)
    result["cpu_s"] = cpu_delta(before, cpu_seconds(cfg, -1))
    drain(api, "bench-plain")
    return result


def operator_run(
    api: client.ApiClient,
    cfg: Config,
    jobs: int,
    tree: str | None,
    py_spy: str | None,
    profile: Path | None,
    rate: float = 0.0,
) -> dict[str, Any]:
    """An operator started for this run (from ``tree``'s operator/ when given, else this process's
    PYTHONPATH), the jobs applied, the operator stopped and the namespace drained."""
    env = {"PYTHONPATH": str(Path(tree) / "operator")} if tree else None
    operator = Operator(cfg.kubeconfig, cfg.state_dir / "operator.log", env=env)
    try:
        operator.wait_idle()
        profiler = None
        if py_spy:
            # Sampling the operator while it admits shows where its CPU goes (py-spy is not a
            # dependency of the project: pip install py-spy).
            profiler = subprocess.Popen(
                [
                    shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy",
                    "record",
                    "--format",
                    "raw",
                    "-r",
                    "50",
                    "-o",
                    py_spy,
                    "--pid",
                    str(operator.process.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        before = cpu_seconds(cfg, operator.process.pid)
        result = throughput(api, cfg, jobs, profile=profile, rate=rate)
        result["cpu_s"] = cpu_delta(before, cpu_seconds(cfg, operator.process.pid))
        result["operator"] = operator.reconciles()
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        result["operator_peak_rss_mib"] = round(operator.peak_rss_mib(), 1)
        result["tree"] = tree or "."
    finally:
        operator.stop()
    drain(api, "bench-throughput")
    return result


def compare(ours: dict[str, Any], ceilings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``ours`` against each ceiling of its round (keys of the "plain" one unprefixed)."""
    compared: dict[str, Any] = {"tree": ours["tree"], "operator_cpu_s": ours["cpu_s"].get("operator", 0.0)}
    for kind, ceiling in ceilings.items():
        suffix = "" if kind == "plain" else "_" + kind.replace(" ", "_")
        for key, value in against(ours, ceiling).items():
            compared[key + suffix] = value
    return compared


def against(ours: dict[str, Any], ceiling: dict[str, Any]) -> dict[str, Any]:
    """One operator run against the ceiling run just before it: the share of its pods bound per second,
    its p99 job bind latency over the ceiling's, and its whole cluster's CPU (operator included) over
    the ceiling's: on a machine whose cores the control plane saturates, the share cannot pass the
    inverse of that CPU ratio, whatever the operator does with its requests."""
    return {
        "share_of_ceiling": round(ours["pods_bound_per_s"] / ceiling["pods_bound_per_s"], 3),
        "p99_ratio": round(ours["per_job_p99_s"] / ceiling["per_job_p99_s"], 2),
        "cpu_ratio": round(sum(ours["cpu_s"].values()) / max(0.1, sum(ceiling["cpu_s"].values())), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--pool", type=int, default=32, help="nodes of the queueing pool")
    parser.add_argument("--job-seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="leave the benchmark cluster running")
    parser.add_argument("--no-queueing", action="store_true", help="throughput figures only")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the plain-pods run")
    # This machine's noise moves one run's share by half: compare trees in interleaved rounds, each
    # operator run against the ceiling run of its own round.
    parser.add_argument("--rounds", type=int, default=1, help="ceiling + operator runs, interleaved")
    parser.add_argument(
        "--trees", default="", help="comma-separated checkouts whose operator/ each round runs in turn"
    )
    # Two sessions on one machine each need their own cluster: another state dir and other ports.
    parser.add_argument("--state-dir", default="/tmp/lepton-bench-trainingjob")
    parser.add_argument("--port-offset", type=int, default=2000, help="added to every default port")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the operator during the throughput run")
    parser.add_argument(
        "--apiserver-profile",
        metavar="DIR",
        help="the API server's CPU profile of each run of the first round, as DIR/<run>.pprof "
        "(a cluster made by this run: profiling is off in kept clusters made without it)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="jobs applied per second instead of all at once (both runs): the latency admission adds "
        "at a pace the cluster keeps up with, rather than a place in a burst's queue",
    )
    parser.add_argument(
        "--split-cpus",
        action="store_true",
        help="the control plane on CPU 0, the rest (KWOK, the operator, this client) on the other CPUs: "
        "the operator then competes with the API server for CPU as on a real cluster, not as on a laptop",
    )
    args = parser.parse_args()
    if args.jobs * 4 > args.nodes:
        # Each worker takes a whole 8-GPU node: the pods past the nodes would never bind.
        parser.error(f"--jobs {args.jobs} needs {args.jobs * 4} nodes (a worker per node), has {args.nodes}")
    if args.split_cpus and len(os.sched_getaffinity(0)) < 2:
        parser.error("--split-cpus needs 2 CPUs or more")
    os.environ.update(bench_env(args.nodes, args.state_dir, args.port_offset, bool(args.apiserver_profile)))
    profiles = Path(args.apiserver_profile) if args.apiserver_profile else None
    if profiles:
        profiles.mkdir(parents=True, exist_ok=True)
    cfg = Config.from_env()
    cluster.up(cfg)
    trees: list[str | None] = [t for t in args.trees.split(",") if t] or [None]
    try:
        bin_dir = cluster.tools_dir()
        cluster.ensure_nodes(cfg, bin_dir, args.nodes, 8, 0, timeout=900)
        install_crds(cfg)
        kubectl = [str(bin_dir / "kubectl"), "--kubeconfig", str(cfg.kubeconfig)]
        pool = [f"lepton-gpu-{i}" for i in range(args.nodes - args.pool, args.nodes)]
        subprocess.run(
            [*kubectl, "label", "node", *pool, f"{POOL_LABEL}=queue", "--overwrite"],
            check=True,
            capture_output=True,
        )
        results: dict[str, Any] = {"rounds": []}
        if args.split_cpus:
            cpus = sorted(os.sched_getaffinity(0))
            results["split_cpus"] = {"control_plane": cpus[:1], "rest": cpus[1:]}
            results["pinned"] = split_cpus(cfg, set(cpus[:1]), set(cpus[1:]))
        api = config.new_client_from_config(config_file=str(cfg.kubeconfig))
        api.configuration.connection_pool_maxsize = 32
        results["settle_s"] = wait_settled(api)
        for n in range(args.rounds):
            first = profiles if n == 0 else None
            ceilings = {
                kind: ceiling_run(
                    api,
                    cfg,
                    args.jobs,
                    kind,
                    first and first / f"ceiling-{kind.replace(' ', '-')}.pprof",
                    args.rate,
                )
                for kind in ([] if args.no_ceiling else CEILINGS)
            }
            runs = [
                operator_run(
                    api,
                    cfg,
                    args.jobs,
                    tree,
                    args.py_spy if n == 0 else None,
                    first and first / f"operator-{i}.pprof",
                    args.rate,
                )
                for i, tree in enumerate(trees)
            ]
            results["rounds"].append(
                {
                    "ceilings": ceilings,
                    "runs": runs,
                    "compared": [compare(run, ceilings) for run in runs] if ceilings else [],
                }
            )
            print(json.dumps(results["rounds"][-1], indent=2), flush=True)
        if not args.no_ceiling:
            results["summary"] = {
                tree or ".": {
                    key: [
                        c[key] for r in results["rounds"] for c in r["compared"] if c["tree"] == (tree or ".")
                    ]
                    for key in (
                        "share_of_ceiling",
                        "p99_ratio",
                        "share_of_ceiling_same_pods",
                        "p99_ratio_same_pods",
                        "cpu_ratio_same_pods",
                        "operator_cpu_s",
                    )
                }
                for tree in trees
            }
            print(json.dumps(results["summary"], indent=2), flush=True)
        if args.no_queueing:
            return
        operator = Operator(cfg.kubeconfig, cfg.state_dir / "operator.log")
        try:
            operator.wait_idle()
            window = args.job_seconds * 6
            results["queue_gang"] = queueing(
                api, mode="gang", pool_nodes=args.pool, seconds=args.job_seconds, window=window
            )
        finally:
            operator.stop()
        results["queue_plain"] = queueing(
            api, mode="plain", pool_nodes=args.pool, seconds=args.job_seconds, window=window
        )
        print(json.dumps({k: results[k] for k in ("queue_gang", "queue_plain")}, indent=2))
    finally:
        tear_down(cfg, None, args.keep)


if __name__ == "__main__":
    main()
