"""Bodies of `lepton get`, `describe`, `predict`, `scale` and `rollout`; imported only when one of
them runs."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lepton.cli import tables
from lepton.client.errors import LeptonError, UsageError
from lepton.client.kinds import INFERENCE_SERVICE, KINDS, Kind, kind_named, parse_ref
from lepton.client.rollout import ANNOTATIONS, annotation_patch, target_version


def console() -> Console:
    """stdout; into a pipe or a file, lines are never folded (rich would fold at 80 columns)."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=1000)
    return out


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: Console | None = None) -> None:
    grid = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(header, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    (out or console()).print(grid)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _dump(items: list[dict[str, Any]], output: str, single: bool) -> None:
    doc: Any = items[0] if single else {"apiVersion": "v1", "kind": "List", "items": items}
    if output == "json":
        print(json.dumps(doc, indent=2))
    else:
        import yaml  # noqa: PLC0415

        print(yaml.safe_dump(doc, sort_keys=False), end="")


def get(opts: Any, kind_word: str | None, name: str | None, all_namespaces: bool, output: str) -> None:
    if kind_word and "/" in kind_word:
        kind, name = parse_ref(kind_word)
        kinds: Sequence[Kind] = (kind,)
    else:
        kinds = (kind_named(kind_word),) if kind_word else KINDS
    if name and len(kinds) != 1:
        raise UsageError("a name needs a kind", f"e.g. `lepton get tj {name}`")
    cluster = opts.cluster()
    found: list[tuple[Kind, list[dict[str, Any]]]] = [
        (kind, [cluster.get(kind, name)] if name else cluster.objects(kind, all_namespaces)) for kind in kinds
    ]
    if output in ("json", "yaml"):
        _dump([o for _, items in found for o in items], output, single=bool(name))
        return
    if output == "name":
        for kind, items in found:
            print("\n".join(f"{kind.singular}/{o['metadata']['name']}" for o in items))
        return
    out, printed = console(), False
    for kind, items in found:
        if not items:
            continue
        if printed:
            out.print()
        if len(kinds) > 1:
            out.print(f"[bold]{kind.kind}s[/bold] ({kind.short})")
        print_table(*tables.table(kind.kind, items, _now(), all_namespaces), out=out)
        printed = True
    if not printed:
        where = "any namespace" if all_namespaces else f"namespace {cluster.namespace}"
        what = " or ".join(k.kind + "s" for k in kinds)
        print(f"No {what} in {where}.", file=sys.stderr)


def describe(opts: Any, ref: str) -> None:
    kind, name = parse_ref(ref)
    cluster = opts.cluster()
    obj = cluster.get(kind, name)
    out = console()
    width = max(len(label) for label, _ in tables.summary(kind.kind, obj))
    out.print(f"[bold]{kind.kind}[/bold] {name}")
    for label, value in tables.summary(kind.kind, obj):
        out.print(f"  {label + ':':<{width + 1}} {value}")
    rows = tables.conditions(kind.kind, obj)
    out.print("\n[bold]Conditions[/bold]" + ("" if rows else ": none yet (has the operator seen it?)"))
    if rows:
        print_table(["TYPE", "STATUS", "REASON", "MESSAGE", "WHAT IT MEANS"], rows, out)
    events = cluster.events(kind, name)[-10:]
    out.print("\n[bold]Events[/bold]" + ("" if events else ": none"))
    if events:
        now = _now()
        print_table(
            ["AGE", "TYPE", "REASON", "MESSAGE"],
            [
                [
                    tables.age(e.get("lastTimestamp") or e.get("eventTime"), now),
                    e.get("type", ""),
                    e.get("reason", ""),
                    e.get("message", ""),
                ]
                for e in events
            ],
            out,
        )


def predict(
    opts: Any, ref: str, input_file: str, url: str | None, token: str | None, model: str | None, output: str
) -> None:
    from lepton.client import oip  # noqa: PLC0415 - numpy
    from lepton.client.endpoint import Endpoint  # noqa: PLC0415

    _, name = parse_ref(ref, INFERENCE_SERVICE)
    try:
        data = sys.stdin.buffer.read() if input_file == "-" else Path(input_file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the input: {exc}", "pass -i with a .json, .csv or .npy file") from None
    inputs = oip.read_input(input_file, data)
    cluster = None if (url and model) else opts.cluster()
    if model is None:
        assert cluster is not None  # connected above: no model was given
        model = str(cluster.get(INFERENCE_SERVICE, name)["spec"]["model"]["name"])
    endpoint = Endpoint(model, url=url, cluster=cluster, service=name, token=token)
    answer = endpoint.infer(inputs)
    results = oip.outputs(answer)
    if output == "json":
        print(json.dumps({k: v.tolist() for k, v in results.items()}))
        return
    out = console()
    for out_name, array in results.items():
        out.print(f"[bold]{out_name}[/bold] {array.dtype} {list(array.shape)}")
        rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(-1, 1)
        print_table(
            [f"[{i}]" for i in range(rows.shape[1])],
            [[f"{v:.6g}" if isinstance(v, float) else str(v) for v in r.tolist()] for r in rows],
            out,
        )


def scale(opts: Any, ref: str, replicas: int) -> None:
    _, name = parse_ref(ref, INFERENCE_SERVICE)
    cluster = opts.cluster()
    isvc = cluster.get(INFERENCE_SERVICE, name)
    auto = (isvc.get("spec") or {}).get("autoscaling")
    if auto:
        raise LeptonError(
            f"lisvc/{name} is autoscaled: the autoscaler owns its replicas",
            "change spec.autoscaling.minReplicas/maxReplicas "
            f"(now {auto.get('minReplicas')}..{auto.get('maxReplicas')})",
        )
    cluster.patch(INFERENCE_SERVICE, name, {"spec": {"replicas": replicas}}, subresource="scale")
    print(f"inferenceservice/{name} scaled to {replicas}")


def canary_lines(isvc: Mapping[str, Any]) -> list[str]:
    """`rollout status`: the serving version, the canary (status.canary) and the traffic split."""
    status = isvc.get("status") or {}
    name = isvc["metadata"]["name"]
    serving = status.get("currentVersion") or "(nothing yet)"
    lines = [f"lisvc/{name}: serving {serving}, phase {status.get('phase', '?')}"]
    canary = status.get("canary") or {}
    if not canary:
        lines.append("no rollout in progress")
    else:
        weight, step = canary.get("weight", 0), canary.get("step", 0)
        lines.append(f"canary {canary.get('version')}: {weight}% of traffic, step {step}")
        if canary.get("stepStartTime"):
            lines.append(f"  step started {canary['stepStartTime']}")
        lines.append(f"  failed checks: {canary.get('failedChecks', 0)}")
        if canary.get("message"):
            lines.append(f"  last analysis: {canary['message']}")
    traffic = status.get("traffic") or []
    if traffic:
        lines.append("traffic: " + ", ".join(f"{t.get('version')} {t.get('weight')}%" for t in traffic))
    pending = {
        k: v for k, v in (isvc["metadata"].get("annotations") or {}).items() if k in ANNOTATIONS.values()
    }
    for key, value in sorted(pending.items()):
        lines.append(f"requested: {key}={value}")
    return lines


def rollout_status(opts: Any, name: str) -> None:
    _, name = parse_ref(name, INFERENCE_SERVICE)
    print("\n".join(canary_lines(opts.cluster().get(INFERENCE_SERVICE, name))))


def rollout(opts: Any, action: str, name: str, version: str | None) -> None:
    _, name = parse_ref(name, INFERENCE_SERVICE)
    cluster = opts.cluster()
    version = version or target_version(cluster.get(INFERENCE_SERVICE, name), action)
    cluster.patch(INFERENCE_SERVICE, name, annotation_patch(action, version))
    print(f"inferenceservice/{name} annotated {ANNOTATIONS[action]}={version}")
