"""Pure: the rows `lepton get` prints for each kind, and `describe`'s sections, from the objects
as the API server returns them (dicts: no pydantic, so `get` starts fast)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lepton.client.explain import explain
from lepton.client.progress import progress_of

Obj = Mapping[str, Any]


def age(created: str | None, now: dt.datetime) -> str:
    """kubectl's short age: 42s, 5m, 3h, 2d (and 3h10m / 2d5h below ten units, as kubectl does)."""
    if not created:
        return "<unknown>"
    seconds = int((now - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 10:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 2:
        return f"{hours}h"
    return f"{days}d{hours % 24}h" if days < 8 and hours % 24 else f"{days}d"


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _tj_row(obj: Obj) -> list[str]:
    status, spec = _status(obj), _spec(obj)
    replicas = status.get("replicas") or {}
    prog = progress_of(status)
    return [
        status.get("phase", ""),
        f"{replicas.get('ready', 0)}/{spec.get('replicas', 1)}",
        str(status.get("gpus") or ""),
        str(status.get("restartCount", 0)),
        prog.describe() if prog else "",
        status.get("modelVersion", ""),
    ]


def _mv_row(obj: Obj) -> list[str]:
    status, spec = _status(obj), _spec(obj)
    job = ((spec.get("origin") or {}).get("trainingJob") or {}).get("name", "")
    return [
        spec.get("model", ""),
        spec.get("version", ""),
        status.get("phase", ""),
        (spec.get("source") or {}).get("format", ""),
        job,
        ",".join(status.get("servedBy") or []),
    ]


def _isvc_row(obj: Obj) -> list[str]:
    status, spec = _status(obj), _spec(obj)
    canary = status.get("canary") or {}
    wanted = (status.get("autoscaler") or {}).get("desiredReplicas", spec.get("replicas", 1))
    return [
        (spec.get("model") or {}).get("name", ""),
        status.get("currentVersion", ""),
        status.get("phase", ""),
        f"{status.get('readyReplicas', 0)}/{wanted}",
        f"{canary['version']} {canary.get('weight', 0)}%" if canary.get("version") else "",
    ]


@dataclass(frozen=True)
class Columns:
    headers: tuple[str, ...]
    row: Callable[[Obj], list[str]]


COLUMNS = {
    "TrainingJob": Columns(("PHASE", "READY", "GPUS", "RESTARTS", "PROGRESS", "MODEL VERSION"), _tj_row),
    "ModelVersion": Columns(("MODEL", "VERSION", "PHASE", "FORMAT", "TRAINING JOB", "SERVED BY"), _mv_row),
    "InferenceService": Columns(("MODEL", "VERSION", "PHASE", "READY", "CANARY"), _isvc_row),
}


def table(
    kind: str, items: Sequence[Obj], now: dt.datetime, all_namespaces: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for ``items`` of ``kind``, sorted by namespace and name."""
    columns = COLUMNS[kind]
    headers = (["NAMESPACE"] if all_namespaces else []) + ["NAME", *columns.headers, "AGE"]
    rows = []
    for obj in sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])):
        meta = obj["metadata"]
        ns = [meta.get("namespace", "")] if all_namespaces else []
        rows.append([*ns, meta["name"], *map(str, columns.row(obj)), age(meta.get("creationTimestamp"), now)])
    return headers, rows


def conditions(kind: str, obj: Obj) -> list[list[str]]:
    """Rows TYPE, STATUS, REASON, MESSAGE, MEANING of each condition (MEANING from explain)."""
    rows = []
    for c in _status(obj).get("conditions") or []:
        reason = str(c.get("reason", ""))
        rows.append(
            [
                str(c.get("type", "")),
                str(c.get("status", "")),
                reason,
                str(c.get("message", "")),
                explain(kind, reason),
            ]
        )
    return rows


def summary(kind: str, obj: Obj) -> list[tuple[str, str]]:
    """describe's key facts, as (label, value) pairs; only those that are set."""
    status, spec, meta = _status(obj), _spec(obj), obj.get("metadata") or {}
    pairs: list[tuple[str, Any]] = [
        ("Name", meta.get("name")),
        ("Namespace", meta.get("namespace")),
        ("Phase", status.get("phase")),
    ]
    if kind == "TrainingJob":
        prog = progress_of(status)
        pairs += [
            ("Replicas", spec.get("replicas")),
            ("Workers", ", ".join(f"{k} {v}" for k, v in (status.get("replicas") or {}).items())),
            ("GPUs", status.get("gpus")),
            ("Waiting for", status.get("admissionMessage")),
            ("Restarts", status.get("restartCount")),
            ("Started", status.get("startTime")),
            ("Completed", status.get("completionTime")),
            ("Progress", prog.describe() if prog else None),
            ("Metrics", ", ".join(f"{k} {v:.4g}" for k, v in sorted((status.get("metrics") or {}).items()))),
            ("Model version", status.get("modelVersion")),
        ]
    elif kind == "ModelVersion":
        source = spec.get("source") or {}
        pairs += [
            ("Model", f"{spec.get('model')} version {spec.get('version')}"),
            ("Source", f"{source.get('uri')} ({source.get('format')})"),
            ("Digest", status.get("digest") or source.get("digest")),
            ("Trained by", ((spec.get("origin") or {}).get("trainingJob") or {}).get("name")),
            ("Served by", ", ".join(status.get("servedBy") or [])),
        ]
    else:
        canary = status.get("canary") or {}
        auto = status.get("autoscaler") or {}
        model = spec.get("model") or {}
        replicas = f"{status.get('readyReplicas', 0)} ready of {status.get('replicas', 0)}"
        pairs += [
            ("Model", f"{model.get('name')} ({model.get('version', 'latest')})"),
            ("Serving", status.get("currentVersion")),
            ("Replicas", f"{replicas} (spec {spec.get('replicas', 1)})"),
            ("URL", status.get("url")),
            (
                "Canary",
                f"{canary.get('version')} at {canary.get('weight', 0)}%, step {canary.get('step', 0)}"
                if canary
                else None,
            ),
            (
                "Traffic",
                ", ".join(f"{t.get('version')} {t.get('weight')}%" for t in status.get("traffic") or []),
            ),
            ("Autoscaler", f"{auto.get('reason')}: {auto.get('message')}" if auto.get("reason") else None),
        ]
    return [(label, str(value)) for label, value in pairs if value not in (None, "")]
