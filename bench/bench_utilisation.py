"""GPU-time utilisation under 2x oversubscription with mixed job sizes (issue #15's figure).

A cluster of its own (8 fake 8-GPU nodes), jobs of 1x1, 1x8, 2x8 and 4x8 GPUs arriving over a
window, each running a set time once all its workers run, their GPU-time together twice what the
cluster holds over the arrival window. Two runs of the same workload, in the same invocation:

- anchor: the same pods created directly at each arrival, the kube-scheduler alone (no gang
  admission). A job makes progress only when all its workers run (torch.distributed waits in the
  rendezvous), so the bench plays the rendezvous: it deletes a job's pods its run time after the last
  of them started. Partial gangs hold GPUs that do nothing.
- lepton: TrainingJobs in a BestEffortFIFO ClusterQueue with a reservation, the operator as a
  process; each worker exits 0 its run time after it started (simulation hooks).

Utilisation = GPU-seconds held by running workers of complete gangs / (capacity x the window while
work was waiting: from the first arrival until the last job's gang is running). The reservation's
bound for a job: it holds a reservation from max(queued + reservationAfterSeconds, first time it was
the head of the queue), and from then nothing is admitted onto its nodes, so it fits within the
longest run time (its fit time) plus the admission pass's latency.

    python bench/bench_utilisation.py [--nodes 8] [--arrival-seconds 60] [--reservation-seconds 20]
        [--state-dir /tmp/lepton-cluster-utilisation] [--port-offset 1100]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from kubernetes import client, config  # noqa: E402

from bench_trainingjob import GROUP, VERSION, drain, job_body, make_namespace, wait_settled  # noqa: E402
from benchkit import cluster_env, tear_down  # noqa: E402
from localcluster import cluster  # noqa: E402
from localcluster.config import Config  # noqa: E402
from support.operator import Operator  # noqa: E402
from utilisation_audit import handoffs, operator_writes_per_job  # noqa: E402
from utilisation_kit import Job, Tally, by_size, summary, utilisation_within, workload  # noqa: E402

QUEUE = "bench-utilisation"


def worker_pod(job: Job, index: int) -> dict[str, Any]:
    template = job_body(job.name, replicas=job.replicas, gpus=job.gpus, annotations={}, selector={})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{job.name}-worker-{index}"},
        "spec": {**template["spec"]["template"]["spec"], "restartPolicy": "Never"},
    }


def training_job(job: Job) -> dict[str, Any]:
    done = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": f"{job.seconds:g}s"}
    body = job_body(job.name, replicas=job.replicas, gpus=job.gpus, annotations=done, selector={})
    body["spec"]["scheduling"] = {"queue": QUEUE}
    if job.deadline is not None:
        body["spec"]["runPolicy"] = {"activeDeadlineSeconds": job.deadline}
    return body


def with_deadlines(plan: list[Job], factor: float | None) -> None:
    """Each job's activeDeadlineSeconds: its run time x ``factor``, rounded up (users over-ask: the
    run time is not known exactly, and the deadline counts from admission, before the workers
    start)."""
    for job in plan:
        job.deadline = None if factor is None else math.ceil(job.seconds * factor)


def observe(
    core: client.CoreV1Api, namespace: str, jobs: dict[str, Job], now: float, nodes: list[str]
) -> tuple[int, int, dict[str, int]]:
    """(GPUs held by bound live pods, GPUs of complete running gangs, free GPUs per node); marks
    starts and finishes."""
    running: collections.Counter[str] = collections.Counter()
    succeeded: collections.Counter[str] = collections.Counter()
    free = dict.fromkeys(nodes, 8)
    for pod in core.list_namespaced_pod(namespace).items:
        job = jobs.get(pod.metadata.name.rsplit("-worker-", 1)[0])
        if job is None:
            continue
        if pod.status.phase == "Succeeded":
            succeeded[job.name] += 1
        elif pod.spec.node_name and pod.metadata.deletion_timestamp is None:
            free[pod.spec.node_name] -= job.gpus
            running[job.name] += pod.status.phase == "Running"
    useful = 0
    for job in jobs.values():
        if running[job.name] == job.replicas:
            useful += job.size
            if job.started is None:
                job.started = now
        if job.finished is None and succeeded[job.name] == job.replicas:
            job.finished = now
            job.started = job.started if job.started is not None else now
    return 8 * len(nodes) - sum(free.values()), useful, free


def fits(job: Job, free: dict[str, int]) -> bool:
    return sum(f // job.gpus for f in free.values()) >= job.replicas


def reservations(
    custom: client.CustomObjectsApi, namespace: str, jobs: dict[str, Job], now: float
) -> list[str]:
    """Jobs that hold a reservation now, as their status says; notes when each was first the head
    of the queue and first held one."""
    holding = []
    for item in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "trainingjobs")["items"]:
        job, status = jobs[item["metadata"]["name"]], item.get("status") or {}
        if status.get("phase") == "Failed" and job.failed is None:
            job.failed, job.finished = status.get("reason") or "Failed", job.finished or now
        if job.head is None and status.get("queuePosition") == 1:
            job.head = now
        if job.started is None and "; holds a reservation:" in (status.get("admissionMessage") or ""):
            job.reserved = job.reserved if job.reserved is not None else now
            holding.append(job.name)
    return holding


def mark_lent(core: client.CoreV1Api, namespace: str, jobs: list[Job]) -> None:
    """Jobs admitted onto nodes held for a reservation, as their Admitted event says (the Admitted
    condition's message is the phase's only while the job is Admitted)."""
    events = core.list_namespaced_event(namespace, field_selector="reason=Admitted").items
    lent = {e.involved_object.name for e in events if "some on the nodes held for" in (e.message or "")}
    for job in jobs:
        job.lent = job.name in lent


def run(
    api: client.ApiClient, mode: str, plan: list[Job], capacity: int, limit: float, interval: float
) -> tuple[list[Job], Tally]:
    namespace = f"bench-util-{mode}"
    make_namespace(api, namespace)
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    nodes = [f"lepton-gpu-{i}" for i in range(capacity // 8)]
    jobs = {j.name: Job(j.name, j.at, j.replicas, j.gpus, j.seconds, deadline=j.deadline) for j in plan}
    pending = sorted(jobs.values(), key=lambda j: j.at)
    tally = Tally(capacity)
    began = time.monotonic()
    last = 0.0
    while True:
        now = time.monotonic() - began
        while pending and pending[0].at <= now:
            job = pending.pop(0)
            if mode == "lepton":
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, "trainingjobs", training_job(job)
                )
            else:
                for index in range(job.replicas):
                    core.create_namespaced_pod(namespace, worker_pod(job, index))
            job.created = time.monotonic() - began
        held, useful, free = observe(core, namespace, jobs, now, nodes)
        holding = reservations(custom, namespace, jobs, now) if mode == "lepton" else []
        if mode == "plain":
            # The rendezvous: a complete gang runs its time, then its pods go (and free their GPUs).
            for job in jobs.values():
                if job.started is not None and job.finished is None and now >= job.started + job.seconds:
                    for index in range(job.replicas):
                        core.delete_namespaced_pod(
                            f"{job.name}-worker-{index}", namespace, grace_period_seconds=0
                        )
                    job.finished = now
        step = now - last
        last = now
        queued = [j for j in jobs.values() if j.created is not None and j.started is None]
        tally.useful_all += useful * step
        if pending or queued or tally.window == 0.0:
            tally.useful += useful * step
            tally.held += held * step
            tally.window = now
            # Held but not useful: bound workers not Running yet, or partial gangs. Free: held back
            # by a reservation, or free while a queued job fits (admission not done yet), or free
            # where no queued job fits (fragments), or free with no job queued at all (the jobs
            # have not arrived yet: no scheduler could use them).
            tally.idle["bound_not_running_or_partial"] += (held - useful) * step
            why = (
                "reservation"
                if holding
                else "nothing_queued"
                if not queued
                else "fits_not_admitted"
                if any(fits(j, free) for j in queued)
                else "no_fit"
            )
            tally.idle[f"free_{why}"] += (capacity - held) * step
        tally.trace.append((round(now, 1), held, useful, holding))
        tally.samples += 1
        if all(j.finished is not None for j in jobs.values()) or now > limit:
            break
        time.sleep(interval)
    return list(jobs.values()), tally


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--arrival-seconds", type=float, default=60.0)
    parser.add_argument("--min-seconds", type=float, default=10.0, help="shortest job run time")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="longest job run time")
    parser.add_argument("--reservation-seconds", type=int, default=20)
    parser.add_argument(
        "--deadline-factor",
        type=float,
        help="give each job activeDeadlineSeconds = its run time x this (backfill onto held nodes)",
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--interval", type=float, default=1.0, help="sampling period")
    parser.add_argument("--trace", metavar="FILE", help="write the samples of both runs as JSON")
    parser.add_argument("--keep", action="store_true", help="leave the benchmark cluster running")
    parser.add_argument("--no-anchor", action="store_true", help="skip the plain-pods run")
    # Two sessions on one machine each need their own cluster: another state dir and other ports.
    parser.add_argument("--state-dir", default="/tmp/lepton-cluster-utilisation")
    parser.add_argument("--port-offset", type=int, default=1100, help="added to every default port")
    args = parser.parse_args()
    os.environ.update(
        cluster_env(
            args.state_dir,
            args.port_offset,
            GPU_NODES=str(args.nodes),
            GPUS_PER_NODE="8",
            CPU_NODES="0",
            PROMETHEUS="0",
            LEPTON_AUDIT="1",  # every request: how long freed GPUs wait, the operator's writes
        )
    )
    cfg = Config.from_env()
    capacity = args.nodes * 8
    plan = workload(args.seed, capacity, args.arrival_seconds, (args.min_seconds, args.max_seconds))
    with_deadlines(plan, args.deadline_factor)
    # Past this, a run is cut: the plain pods can deadlock, every GPU held by partial gangs.
    limit = 3 * args.arrival_seconds + args.max_seconds
    results: dict[str, Any] = {
        "workload": {
            "capacity_gpus": capacity,
            "jobs": len(plan),
            "by_size": {size: len(names) for size, names in sorted(by_size(plan).items())},
            "gpu_seconds": sum(j.size * j.seconds for j in plan),
            "deadline_factor": args.deadline_factor,
            "oversubscription": round(
                sum(j.size * j.seconds for j in plan) / (capacity * args.arrival_seconds), 2
            ),
        },
        "load_before": [round(x, 1) for x in os.getloadavg()],
    }
    cluster.up(cfg)
    operator = None
    try:
        bin_dir = cluster.tools_dir()
        cluster.ensure_nodes(cfg, bin_dir, args.nodes, 8, 0)
        kubectl = [str(bin_dir / "kubectl"), "--kubeconfig", str(cfg.kubeconfig)]
        for verb in (["apply", "--server-side"], ["wait", "--for=condition=Established"]):
            subprocess.run([*kubectl, *verb, "-f", str(REPO / "crds")], check=True, capture_output=True)
        api = config.new_client_from_config(config_file=str(cfg.kubeconfig))
        wait_settled(api)
        anchor = None
        if not args.no_anchor:
            # Before the operator runs, so it spends no CPU beside the scheduler.
            jobs, anchor = run(api, "plain", plan, capacity, limit, args.interval)
            results["anchor_plain_pods"] = summary(jobs, anchor, None)
            print(json.dumps(results, indent=2), flush=True)
            drain(api, "bench-util-plain")
        operator = Operator(
            str(cfg.kubeconfig), cfg.state_dir / "operator.log", {"LEPTON_LOG_LEVEL": "warning"}
        )
        operator.start()
        queue = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClusterQueue",
            "metadata": {"name": QUEUE},
            "spec": {
                "queueingStrategy": "BestEffortFIFO",
                "reservationAfterSeconds": args.reservation_seconds,
            },
        }
        client.CustomObjectsApi(api).create_cluster_custom_object(GROUP, VERSION, "clusterqueues", queue)
        jobs, tally = run(api, "lepton", plan, capacity, limit, args.interval)
        mark_lent(client.CoreV1Api(api), "bench-util-lepton", jobs)
        results["lepton"] = summary(jobs, tally, args.reservation_seconds)
        audit = cfg.state_dir / "audit.log"
        results["lepton"]["handoffs"] = handoffs(audit, "bench-util-lepton")
        results["lepton"]["operator_writes_per_job"] = operator_writes_per_job(
            audit, "bench-util-lepton", len(jobs)
        )
        results["load_after"] = [round(x, 1) for x in os.getloadavg()]
        if anchor is not None:
            # The anchor can deadlock (every GPU held by partial gangs), and then its own window is
            # only where the run was cut: compare it over Lepton's window too.
            within = utilisation_within(anchor, tally.window)
            results["anchor_plain_pods"]["utilisation_within_lepton_window"] = within
            results["utilisation_ratio_to_anchor"] = {
                "own_windows": round(
                    results["lepton"]["utilisation"] / max(results["anchor_plain_pods"]["utilisation"], 1e-9),
                    2,
                ),
                "lepton_window": round(results["lepton"]["utilisation"] / max(within, 1e-9), 2),
            }
        if args.trace:
            # (seconds, GPUs held, GPUs of complete gangs, jobs holding a reservation) per sample.
            Path(args.trace).write_text(
                json.dumps({"lepton": tally.trace, "anchor": anchor.trace if anchor else []})
            )
        print(json.dumps(results, indent=2), flush=True)
    finally:
        tear_down(cfg, operator, args.keep)


if __name__ == "__main__":
    main()
