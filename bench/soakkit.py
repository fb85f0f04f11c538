"""The soak benchmark's bookkeeping (bench_soak.py): when each object was created, first seen in
each phase, deleted and gone, fed by watches; and the figures made of it per time window."""

from __future__ import annotations

import collections
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from benchkit import operator_requests

GROUP, VERSION, NS = "lepton.ai", "v1alpha1", "soak"
JOBS, SERVICES = "trainingjobs", "inferenceservices"
JOB_LABEL = "lepton.ai/job-name"


class Tracker:
    """Per object (plural, name): when it was created and deleted, and when the watches first saw
    each phase, its first worker pod, and its end. Fed from the watch threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[tuple[str, str], dict[str, float]] = collections.defaultdict(dict)
        self.relists = 0

    def mark(self, key: tuple[str, str], what: str, at: float) -> None:
        with self.lock:
            self.seen[key].setdefault(what, at)

    def get(self, key: tuple[str, str]) -> dict[str, float]:
        with self.lock:
            return dict(self.seen.get(key, {}))

    def snapshot(self) -> dict[tuple[str, str], dict[str, float]]:
        with self.lock:
            return {key: dict(marks) for key, marks in self.seen.items()}

    def not_gone(self) -> list[str]:
        """Objects created and not yet seen deleted by the watches."""
        return sorted("/".join(key) for key, marks in self.snapshot().items() if "gone" not in marks)


def watch_forever(
    list_fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    on_event: Callable[[str, Any, float], None],
    tracker: Tracker,
) -> None:
    """Follow a list's watch for ever (daemon thread), resuming from the last resourceVersion; a
    resumption the server refuses (410 Gone) starts again from a fresh list and is counted."""
    version: str | None = None
    while True:
        try:
            stream = watch.Watch().stream(
                list_fn, *args, resource_version=version, timeout_seconds=60, **kwargs
            )
            for event in stream:
                obj = event["object"]
                if event["type"] == "ERROR":
                    raise ApiException(status=obj.get("code", 0) if isinstance(obj, dict) else 0)
                version = (
                    obj["metadata"]["resourceVersion"]
                    if isinstance(obj, dict)
                    else obj.metadata.resource_version
                )
                on_event(event["type"], obj, time.time())
        except ApiException as exc:
            if exc.status == 410:
                version = None
                with tracker.lock:
                    tracker.relists += 1
            else:
                time.sleep(1)
        except Exception:  # a dropped connection: resume where it stopped
            time.sleep(1)


def start_watches(api: client.ApiClient, tracker: Tracker) -> None:
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)

    def lepton(plural: str) -> Callable[[str, Any, float], None]:
        def on_event(kind: str, obj: dict[str, Any], at: float) -> None:
            key = (plural, obj["metadata"]["name"])
            if kind == "DELETED":
                tracker.mark(key, "gone", at)
            elif phase := (obj.get("status") or {}).get("phase"):
                tracker.mark(key, "status", at)
                tracker.mark(key, phase, at)

        return on_event

    def pods(kind: str, pod: Any, at: float) -> None:
        if kind == "ADDED":
            tracker.mark((JOBS, pod.metadata.labels[JOB_LABEL]), "pods", at)

    watches: list[
        tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], Callable[[str, Any, float], None]]
    ] = [
        (custom.list_namespaced_custom_object, (GROUP, VERSION, NS, JOBS), {}, lepton(JOBS)),
        (custom.list_namespaced_custom_object, (GROUP, VERSION, NS, SERVICES), {}, lepton(SERVICES)),
        (core.list_namespaced_pod, (NS,), {"label_selector": JOB_LABEL}, pods),
    ]
    for fn, args, kwargs, on_event in watches:
        threading.Thread(
            target=watch_forever, args=(fn, args, kwargs, on_event, tracker), daemon=True
        ).start()


def histogram(text: str) -> dict[float, float]:
    """The operator's reconcile-duration buckets (cumulative counts by upper bound)."""
    buckets: dict[float, float] = collections.defaultdict(float)
    for line in text.splitlines():
        if line.startswith("lepton_operator_reconcile_duration_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] += float(line.rsplit(" ", 1)[1])
    return dict(buckets)


def histogram_p99(before: dict[float, float], after: dict[float, float]) -> dict[str, float | None]:
    """Reconciles in a window and the upper bound of the bucket that holds their 99th percentile."""
    delta = {b: after.get(b, 0.0) - before.get(b, 0.0) for b in sorted(after)}
    total = delta.get(float("inf"), 0.0)
    bound = next((b for b, n in delta.items() if total and n >= 0.99 * total), None)
    return {"reconciles": total, "p99_le_s": bound if bound != float("inf") else None}


def quantiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"n": len(ordered), "p50_s": round(statistics.median(ordered), 2), "p99_s": round(pick, 2)}


LATENCIES = {  # figure -> (plural, from, to)
    "job_status": (JOBS, "created", "status"),
    "job_pods": (JOBS, "created", "pods"),
    "job_running": (JOBS, "created", "Running"),
    "job_succeeded": (JOBS, "created", "Succeeded"),
    "service_status": (SERVICES, "created", "status"),
    "service_ready": (SERVICES, "created", "Ready"),
    "job_delete_gone": (JOBS, "deleted", "gone"),
    "service_delete_gone": (SERVICES, "deleted", "gone"),
}


def latency_windows(tracker: Tracker, began: float, window_s: float) -> list[dict[str, Any]]:
    windows: dict[int, dict[str, list[float]]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    records = tracker.snapshot()
    for (plural, _), marks in records.items():
        if "created" not in marks:
            continue
        index = int((marks["created"] - began) // window_s)
        for figure, (kind, start, end) in LATENCIES.items():
            if kind == plural and start in marks and end in marks:
                windows[index][figure].append(marks[end] - marks[start])
    return [
        {"window": i, **{figure: quantiles(windows[i][figure]) for figure in LATENCIES}}
        for i in sorted(windows)
    ]


def audit_windows(
    path: Path, began: float, ended: float, window_s: float, created: list[int]
) -> dict[str, Any]:
    """The operator's requests per window and per object created in it, and the whole run's mix."""
    per_window: collections.Counter[int] = collections.Counter()
    mix: collections.Counter[str] = collections.Counter()
    for stamp, what in operator_requests(path):
        if began - 1 <= stamp <= ended + 1:
            per_window[min(int((stamp - began) // window_s), len(created) - 1)] += 1
            mix[what] += 1
    total = sum(per_window.values())
    return {
        "requests": total,
        "requests_per_object": round(total / max(1, sum(created)), 2),
        "per_window": [
            {
                "window": i,
                "requests": per_window[i],
                "objects": n,
                "per_object": round(per_window[i] / max(1, n), 2),
            }
            for i, n in enumerate(created)
        ],
        "mix": dict(mix.most_common(30)),
    }


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the README table takes: RSS start/end/max, tracebacks, p99 per window of the
    reconcile latencies, the operator's requests per object."""
    figures = ("job_status", "job_running", "service_ready")
    return {
        "rss_mib": results["rss_mib"],
        "rss_slope_mib_per_hour_second_half": rss_slope(results["samples"][len(results["samples"]) // 2 :]),
        "tracebacks": results["log"]["tracebacks"],
        "p99_s_per_window": {
            figure: [w[figure].get("p99_s") for w in results["latency_windows"]] for figure in figures
        },
        "operator_reconcile_p99_le_s_per_window": [
            w["operator_reconcile"].get("p99_le_s") for w in results["latency_windows"]
        ],
        "requests_per_object": results["api"]["requests_per_object"],
        "created": results["created"],
        "stuck": len(results["stuck"]),
        "leftovers": sum(results["leftovers"].values()),
    }


def rss_slope(samples: list[dict[str, float]]) -> float | None:
    """Least-squares growth of the RSS in MiB per hour: past the warm-up, a leak shows as a slope."""
    if len(samples) < 3:
        return None
    slope = statistics.linear_regression([s["t_s"] for s in samples], [s["rss_mib"] for s in samples]).slope
    return round(slope * 3600, 2)
