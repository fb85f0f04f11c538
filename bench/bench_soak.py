"""Soak: steady churn of TrainingJobs and InferenceServices for an hour against one operator process.

A cluster of its own (state dir /tmp/lepton-bench-soak, every port +600, audit log of every
request, fake KWOK GPU nodes), ``python -m lepton`` with its default settings, and at fixed rates:
- TrainingJobs of 2 workers x 4 GPUs whose KWOK pods exit 0 after --job-seconds (the
  sim.lepton.ai hooks), deleted once Succeeded;
- InferenceServices of one replica on one Ready ModelVersion, deleted --service-seconds after they
  are Ready. KWOK pods serve nothing: Ready here is the Deployment's replica Ready on a fake node
  (no model load), so the figure is the operator's reconcile to Ready, not a model server's start.
Reported: the operator's RSS, threads and open files every 30 s; tracebacks in its log; latency
from create to status written / worker pods created / Running / Succeeded (jobs) and to Ready
(services), and delete -> gone, p50/p99 per 10-minute window (by creation time); the operator's own
reconcile histogram per window; its API requests per object (audit log, by user agent); what is
left in the namespace after the last delete. The default rates (10 + 5 objects a minute) keep the
whole cluster and the operator at about 0.15 of a core, so a shared 2-core machine is not saturated.

    python bench/bench_soak.py [--minutes 60] [--jobs-per-minute 10] [--services-per-minute 5]
        [--out /tmp/soak/soak.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "operator"))

from kubernetes import client, config  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from benchkit import Operator, cluster_env, cpu_delta, cpu_seconds, install_crds, make_namespace, tear_down  # noqa: E402
from localcluster import cluster  # noqa: E402
from localcluster.config import Config  # noqa: E402
from soakkit import (  # noqa: E402
    GROUP,
    JOB_LABEL,
    JOBS,
    NS,
    SERVICES,
    VERSION,
    Tracker,
    audit_windows,
    histogram,
    histogram_p99,
    latency_windows,
    start_watches,
    summary,
)

STUCK_S = 300  # an object not done after this long is deleted anyway and counted as stuck


def job_body(name: str, seconds: float) -> dict[str, Any]:
    hooks = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": f"{seconds:g}s"}
    container: dict[str, Any] = {"name": "trainer", "image": "lepton/trainer:soak"}
    container["resources"] = {"limits": {"nvidia.com/gpu": "4"}}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainingJob",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"annotations": hooks}, "spec": {"containers": [container]}},
        },
    }


def model_version() -> dict[str, Any]:
    source = {"uri": "file:///models/m/v1", "format": "torch-export", "digest": "sha256:" + "ab" * 32}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": "m-v1"},
        "spec": {"model": "m", "version": "v1", "source": source},
    }


def service_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "m", "version": "v1"},
            "replicas": 1,
            "server": {"image": "lepton/server:soak"},
        },
    }


def sample(operator: Operator, began: float) -> dict[str, float]:
    status = operator.proc_status()
    return {
        "t_s": round(time.time() - began),
        "rss_mib": round(status.get("VmRSS", 0) / 1024, 1),
        "threads": status.get("Threads", 0),
        "fds": len(os.listdir(f"/proc/{operator.process.pid}/fd")),
        "cpu_s": round(operator.cpu_s(), 1),
    }


class Churn:
    """Creates objects on a fixed schedule and deletes each once it is done (jobs: Succeeded or
    Failed; services: Ready for --service-seconds), or after STUCK_S, counting it as stuck."""

    def __init__(self, api: client.ApiClient, tracker: Tracker, args: argparse.Namespace) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.tracker, self.args = tracker, args
        self.live: list[tuple[str, str]] = []
        self.stuck: list[dict[str, Any]] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self.count = {JOBS: 0, SERVICES: 0}

    def create(self, plural: str) -> None:
        self.count[plural] += 1
        name = f"{'j' if plural == JOBS else 's'}-{self.count[plural]:05d}"
        body = job_body(name, self.args.job_seconds) if plural == JOBS else service_body(name)
        self.tracker.mark((plural, name), "created", time.time())
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, NS, plural, body)
        except ApiException as exc:
            self.errors[f"create {plural} {exc.status}"] += 1
            return
        self.live.append((plural, name))

    def done(self, plural: str, marks: dict[str, float], now: float) -> bool:
        if plural == JOBS:
            return "Succeeded" in marks or "Failed" in marks
        return "Ready" in marks and now - marks["Ready"] >= self.args.service_seconds

    def reap(self, now: float) -> None:
        for key in list(self.live):
            marks = self.tracker.get(key)
            late = now - marks["created"] > STUCK_S
            if not (self.done(key[0], marks, now) or late):
                continue
            if late and not self.done(key[0], marks, now):
                self.stuck.append({"object": "/".join(key), "seen": sorted(marks)})
            self.tracker.mark(key, "deleted", time.time())
            try:
                self.custom.delete_namespaced_custom_object(GROUP, VERSION, NS, key[0], key[1])
            except ApiException as exc:
                self.errors[f"delete {key[0]} {exc.status}"] += 1
            self.live.remove(key)


def leftovers(api: client.ApiClient) -> dict[str, int]:
    """What is still in the namespace once every object is deleted and gone (garbage collection)."""
    core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
    worker_pods = core.list_namespaced_pod(NS, label_selector=JOB_LABEL).items
    return {
        "trainingjobs": len(custom.list_namespaced_custom_object(GROUP, VERSION, NS, JOBS)["items"]),
        "inferenceservices": len(custom.list_namespaced_custom_object(GROUP, VERSION, NS, SERVICES)["items"]),
        "worker_pods": len(worker_pods),
        "deployments": len(apps.list_namespaced_deployment(NS).items),
        "services": len(core.list_namespaced_service(NS).items),
        "configmaps": len(core.list_namespaced_config_map(NS).items) - 1,  # kube-root-ca.crt
    }


def log_summary(log: Path) -> dict[str, Any]:
    """Tracebacks in the operator's log, and its error and warning lines by message (numbers and
    object names folded, so one kind of message counts once)."""
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    levels: dict[str, collections.Counter[str]] = {
        "ERROR": collections.Counter(),
        "WARNING": collections.Counter(),
    }
    for line in lines:
        for level, counter in levels.items():
            if f"[{level}" in line:
                message = line.split("]", 2)[-1].strip()
                counter[re.sub(r"[0-9]+", "N", message)[:120]] += 1
    return {
        "tracebacks": len(starts),
        "first_traceback": "\n".join(lines[starts[0] : starts[0] + 30]) if starts else "",
        **{level.lower(): dict(counter.most_common(10)) for level, counter in levels.items()},
    }


def run(api: client.ApiClient, cfg: Config, operator: Operator, args: argparse.Namespace) -> dict[str, Any]:
    tracker = Tracker()
    start_watches(api, tracker)
    churn = Churn(api, tracker, args)
    window_s = args.window_minutes * 60
    cpu_before = cpu_seconds(cfg, operator.process.pid)
    began = time.time()
    end = began + args.minutes * 60
    every = {JOBS: 60 / args.jobs_per_minute, SERVICES: 60 / args.services_per_minute}
    due = {JOBS: began, SERVICES: began + every[SERVICES] / 2}
    samples = [sample(operator, began)]
    hist = [histogram(operator.metrics_text())]
    next_sample, next_window = began + args.sample_seconds, began + window_s
    while (now := time.time()) < end:
        for plural in (JOBS, SERVICES):
            if now >= due[plural]:
                churn.create(plural)
                due[plural] += every[plural]
        churn.reap(now)
        if now >= next_sample:
            samples.append(sample(operator, began))
            next_sample += args.sample_seconds
            print(json.dumps(samples[-1]), flush=True)
        if now >= next_window:
            hist.append(histogram(operator.metrics_text()))
            next_window += window_s
        time.sleep(0.2)
    churn_ended = time.time()
    # Drain: no more creates; what is live finishes and is deleted, then must be gone.
    deadline = churn_ended + STUCK_S + 60
    while (churn.live or tracker.not_gone()) and time.time() < deadline:
        churn.reap(time.time())
        time.sleep(0.5)
    time.sleep(10)  # garbage collection of the last children, and the audit log's last lines
    hist.append(histogram(operator.metrics_text()))
    samples.append(sample(operator, began))
    windows = latency_windows(tracker, began, window_s)
    created = [0] * max(1, len(hist) - 1)
    for marks in tracker.snapshot().values():
        if "created" not in marks:
            continue
        created[min(len(created) - 1, int((marks["created"] - began) // window_s))] += 1
    for i, window in enumerate(windows):
        window["operator_reconcile"] = histogram_p99(hist[i], hist[i + 1]) if i + 1 < len(hist) else {}
    rss = [s["rss_mib"] for s in samples]
    return {
        "minutes": args.minutes,
        "rate_per_minute": {
            "trainingjobs": args.jobs_per_minute,
            "inferenceservices": args.services_per_minute,
        },
        "created": dict(churn.count),
        "create_or_delete_errors": dict(churn.errors),
        "stuck": churn.stuck,
        "never_gone": tracker.not_gone(),
        "watch_relists": tracker.relists,
        "rss_mib": {"start": rss[0], "end": rss[-1], "max": max(rss), "min": min(rss)},
        "threads": {"start": samples[0]["threads"], "end": samples[-1]["threads"]},
        "fds": {"start": samples[0]["fds"], "end": samples[-1]["fds"]},
        "operator_cpu_s": round(samples[-1]["cpu_s"] - samples[0]["cpu_s"], 1),
        "log": log_summary(operator.log),
        "cpu_s": cpu_delta(cpu_before, cpu_seconds(cfg, operator.process.pid)),
        "latency_windows": windows,
        "latency_all": latency_windows(tracker, began, 1e9)[0],
        "api": audit_windows(cfg.state_dir / "audit.log", began, time.time(), window_s, created),
        "leftovers": leftovers(api),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--jobs-per-minute", type=float, default=10)
    parser.add_argument("--services-per-minute", type=float, default=5)
    parser.add_argument("--job-seconds", type=float, default=20, help="how long each job's workers run")
    parser.add_argument("--service-seconds", type=float, default=60, help="how long a service stays Ready")
    parser.add_argument("--window-minutes", type=float, default=10)
    parser.add_argument("--sample-seconds", type=float, default=30)
    parser.add_argument("--gpu-nodes", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("/tmp/soak/soak.json"))
    parser.add_argument("--keep", action="store_true", help="leave the benchmark cluster running")
    parser.add_argument(
        "--summarize", type=Path, metavar="JSON", help="print the summary of an earlier run's results"
    )
    args = parser.parse_args()
    if args.summarize:
        print(json.dumps(summary(json.loads(args.summarize.read_text())), indent=2))
        return
    env = cluster_env(
        "/tmp/lepton-bench-soak",
        600,
        GPU_NODES=str(args.gpu_nodes),
        CPU_NODES="2",
        PROMETHEUS="0",
        LEPTON_AUDIT="1",
    )
    os.environ.update(env)
    cfg = Config.from_env()
    cluster.up(cfg)
    operator = None
    try:
        install_crds(cfg)
        api = config.new_client_from_config(config_file=str(cfg.kubeconfig))
        make_namespace(api, NS)
        log = cfg.state_dir / "operator.log"
        log.unlink(missing_ok=True)
        operator = Operator(cfg.kubeconfig, log)
        operator.wait_idle()
        custom = client.CustomObjectsApi(api)
        custom.create_namespaced_custom_object(GROUP, VERSION, NS, "modelversions", model_version())
        deadline = time.monotonic() + 120
        while (
            custom.get_namespaced_custom_object(GROUP, VERSION, NS, "modelversions", "m-v1").get("status")
            or {}
        ).get("phase") != "Ready":
            if time.monotonic() > deadline:
                raise SystemExit("ModelVersion m-v1 not Ready after 120s")
            time.sleep(1)
        results = run(api, cfg, operator, args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        results["summary"] = summary(results)
        args.out.write_text(json.dumps(results, indent=2))
        print(json.dumps({k: v for k, v in results.items() if k != "samples"}, indent=2), flush=True)
    finally:
        tear_down(cfg, operator, args.keep)


if __name__ == "__main__":
    main()
