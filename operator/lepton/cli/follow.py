"""`lepton train` (with its live view) and `lepton logs`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.live import Live
from rich.text import Text

from lepton.cli.commands import console
from lepton.client import progress
from lepton.client.errors import JobFailed, UsageError
from lepton.client.kinds import TRAINING_JOB, parse_ref
from lepton.client.logs import Line


def read_manifest(path: Path) -> dict[str, Any]:
    """One TrainingJob manifest, checked against the API model before it is sent, so a typo is
    reported with the field's path rather than as the API server's 422."""
    import yaml  # noqa: PLC0415
    from pydantic import ValidationError  # noqa: PLC0415

    from lepton import api  # noqa: PLC0415 - pydantic models: only for this check

    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror}", "pass -f with a TrainingJob YAML file"
        ) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from None
    jobs = [d for d in docs if isinstance(d, dict) and d.get("kind") == TRAINING_JOB.kind]
    if len(jobs) != 1:
        raise UsageError(f"{path} holds {len(jobs)} TrainingJobs", "give a file with exactly one")
    try:
        api.TrainingJob.model_validate(jobs[0])
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise UsageError(f"{path} is not a valid TrainingJob: {problems}") from None
    return jobs[0]


def status_line(name: str, snap: progress.Snapshot, started: float) -> Text:
    parts = [f"tj/{name}", snap.phase or "submitted"]
    if snap.queue:
        parts.append(snap.queue)
    if snap.pods:
        parts.append(f"pods {snap.pods}")
    if snap.progress and snap.progress.describe():
        parts.append(snap.progress.describe())
    parts.append(f"{time.monotonic() - started:.0f}s")
    return Text(" | ".join(parts), style="bold")


def train(opts: Any, filename: Path, follow: bool, timeout: float | None) -> None:
    from lepton.client.watch import follow_job  # noqa: PLC0415

    manifest = read_manifest(filename)
    cluster = opts.cluster()
    created = cluster.create(TRAINING_JOB, manifest)
    name, namespace = created["metadata"]["name"], created["metadata"]["namespace"]
    out = console()
    out.print(f"trainingjob/{name} created in {namespace}")
    if not follow:
        out.print(f"follow it: lepton train ... --follow, or lepton describe tj/{name} -n {namespace}")
        return
    started = time.monotonic()
    live = Live(Text(""), console=out, transient=True, auto_refresh=False) if out.is_terminal else None

    def show(lines: Sequence[str], snap: progress.Snapshot) -> None:
        stamp = time.strftime("%H:%M:%S")
        for line in lines:
            out.print(f"[dim]{stamp}[/dim] {line}")
        if live is not None:
            live.update(status_line(name, snap, started), refresh=True)

    if live is not None:
        live.start()
    try:
        done, snap = follow_job(cluster, name, show, timeout=timeout, created=created)
    finally:
        if live is not None:
            live.stop()
    elapsed = time.monotonic() - started
    if not done.succeeded:
        raise JobFailed(
            f"tj/{name} {done.describe()} after {elapsed:.0f}s",
            f"read the workers' logs: lepton logs tj/{name}",
        )
    result = f"tj/{name} succeeded in {elapsed:.0f}s"
    if snap.model_version:
        result += f"; model version {snap.model_version}" + (
            f" ({snap.model_version_phase})" if snap.model_version_phase else ""
        )
    elif manifest.get("spec", {}).get("output"):
        result += f"; no ModelVersion recorded (lepton describe tj/{name} says why)"
    out.print(f"[green]{result}[/green]")


def logs(opts: Any, ref: str, follow: bool) -> None:
    from lepton.client.watch import job_logs  # noqa: PLC0415

    _, name = parse_ref(ref, TRAINING_JOB)
    cluster = opts.cluster()
    width = len(str(max(0, int(cluster.get(TRAINING_JOB, name).get("spec", {}).get("replicas", 1)) - 1)))
    for item in job_logs(cluster, name, follow_logs=follow):
        print(item.render(width) if isinstance(item, Line) else item, flush=follow)
