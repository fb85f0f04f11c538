"""What the API server's audit log says of bench/bench_utilisation.py's Lepton run: how long GPUs
freed by a job's end wait for the next gang (finer than the run's 1 s samples), and the operator's
writes per job."""

from __future__ import annotations

import collections
import json
import statistics
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

# Handoffs further apart than this are not one job's end letting the next one in.
HANDOFF_WITHIN_S = 10.0


def _events(path: Path, namespace: str) -> Iterator[dict[str, Any]]:
    with path.open() as lines:
        for line in lines:
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            code = (event.get("responseStatus") or {}).get("code", 0)
            if ref.get("namespace") == namespace and code < 300:
                yield event


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00")).timestamp()


def _job(pod: str) -> str:
    return pod.rsplit("-worker-", 1)[0]


def _spread(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50": round(ordered[len(ordered) // 2], 3),
        "p90": round(ordered[int(len(ordered) * 0.9)], 3),
        "mean": round(statistics.mean(ordered), 3),
    }


def handoffs(path: Path, namespace: str) -> dict[str, Any]:
    """A job ends when the last of its workers' status turns terminal (KWOK's second status write of
    each pod: Running, then Succeeded). For each gang bound that was applied before the latest job
    end before its first binding (within HANDOFF_WITHIN_S), the time from that end, and that split:
    the ended job's status write (Lepton releasing its GPUs), then the gang's first pod created,
    then bound."""
    statuses: dict[str, list[float]] = collections.defaultdict(list)
    binds: dict[str, list[float]] = collections.defaultdict(list)
    creates: dict[str, list[float]] = collections.defaultdict(list)
    job_writes: dict[str, list[float]] = collections.defaultdict(list)
    applied: dict[str, float] = {}
    for event in _events(path, namespace):
        ref, verb, at = event["objectRef"], event["verb"], _at(event)
        resource, sub, name = ref.get("resource"), ref.get("subresource"), ref.get("name") or ""
        if resource == "pods" and sub == "status" and event.get("userAgent", "").startswith("kwok"):
            statuses[name].append(at)
        elif resource == "pods" and sub == "binding":
            binds[_job(name)].append(at)
        elif resource == "pods" and verb == "create" and not sub:
            creates[_job(name)].append(at)
        elif resource == "trainingjobs" and sub == "status":
            job_writes[name].append(at)
        elif resource == "trainingjobs" and verb == "create" and not sub:
            applied[name] = at
    ended: dict[str, float] = {}
    for job in {_job(p) for p in statuses}:
        pods = [times for pod, times in statuses.items() if _job(pod) == job]
        if all(len(times) >= 2 for times in pods):
            ended[job] = max(times[1] for times in pods)
    ends = sorted((at, job) for job, at in ended.items())
    total, released, created, bound = [], [], [], []
    for job, times in binds.items():
        first = min(times)
        before = [(at, ender) for at, ender in ends if at <= first]
        if not before or first - before[-1][0] > HANDOFF_WITHIN_S:
            continue
        end, ender = before[-1]
        if applied.get(job, end) > end:
            continue  # applied after that end: it waited for no job to end
        release = next((w for w in job_writes[ender] if w >= end), None)
        create = min(creates[job], default=None)
        if release is None or create is None or not end <= release <= create <= first:
            continue
        total.append(first - end)
        released.append(release - end)
        created.append(create - release)
        bound.append(first - create)
    return {
        "job_end_to_next_gang_bound_s": _spread(total),
        "job_end_to_its_status_write_s": _spread(released),
        "that_write_to_next_gang_created_s": _spread(created),
        "created_to_bound_s": _spread(bound),
    }


def operator_writes_per_job(path: Path, namespace: str, jobs: int) -> dict[str, float]:
    """The operator's writes in the run's namespace, by verb and resource, per job."""
    counted: collections.Counter[str] = collections.Counter()
    for event in _events(path, namespace):
        if event.get("userAgent", "").startswith("lepton-operator") and event["verb"] not in (
            "get",
            "list",
            "watch",
        ):
            ref = event["objectRef"]
            resource = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
            counted[f"{event['verb']} {resource}"] += 1
    return {what: round(n / jobs, 2) for what, n in counted.most_common()}
