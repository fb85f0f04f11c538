"""Write (or check) the synthetic Argo CD health-check test objects: the few states the local cluster
cannot hold still long enough, or at all, to record (argocd/README.md says which and why).

Every other object under argocd/resource_customizations/lepton.ai/<Kind>/testdata is recorded from
the local cluster by tests/integration/argocd (LEPTON_RECORD_ARGOCD=1), and this script never
writes those. Each synthetic object is made from a recorded one, changed only where the state
differs (no status, a newer generation, a deletionTimestamp, the status the operator's own builder
gives), so both kinds share one shape. Re-recording rewrites these too.

    PYTHONPATH=operator python argocd/testdata.py [--check]
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from lepton.api.modelversion import ModelVersion
from lepton.api.trainingjob import TrainingJobReason
from lepton.policies.status import Phase, conditions_for
from lepton.policies.verification import status_of

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
KINDS = ROOT / "resource_customizations" / "lepton.ai"
RECORDED = "# Recorded from the local cluster"
T0 = "2026-01-15T10:00:00Z"

Body = dict[str, Any]


def as_applied(body: Body) -> Body:
    """The object as the user applied it, before the operator saw it: no status, no finalizer."""
    out = copy.deepcopy(body)
    out.pop("status", None)
    out["metadata"].pop("finalizers", None)
    return out


def created(body: Body) -> Body:
    out = as_applied(body)
    conditions = conditions_for(
        Phase.CREATED, TrainingJobReason.CREATED, "", [], generation=out["metadata"]["generation"], at=T0
    )
    out["status"] = {
        "phase": Phase.CREATED.value,
        "conditions": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions],
        "observedGeneration": out["metadata"]["generation"],
    }
    return out


def stale(body: Body) -> Body:
    out = copy.deepcopy(body)
    out["metadata"]["generation"] += 1
    out["spec"]["runPolicy"]["suspend"] = True
    return out


def deleting(body: Body) -> Body:
    out = copy.deepcopy(body)
    out["metadata"]["deletionTimestamp"] = "2026-01-15T11:00:00Z"
    out["metadata"]["deletionGracePeriodSeconds"] = 0
    return out


def pending(body: Body) -> Body:
    out = as_applied(body)
    out["status"] = status_of(ModelVersion.model_validate(out), None, [], T0)
    return out


# (kind, case): (the recorded case it is made from, how, why it is not recorded)
SYNTHETIC: dict[tuple[str, str], tuple[str, Callable[[Body], Body], str]] = {
    ("TrainingJob", "no-status"): (
        "running",
        as_applied,
        "as applied, before the operator's first reconcile (a moment)",
    ),
    ("TrainingJob", "created"): (
        "queued",
        created,
        "phase Created with the operator's own conditions; it writes Created only while the "
        "workers of a former job of the same name are still being deleted",
    ),
    ("TrainingJob", "stale-generation"): (
        "running",
        stale,
        "suspended (generation 1 -> 2) before the operator observed it (a moment)",
    ),
    ("TrainingJob", "deleting"): (
        "running",
        deleting,
        "deleted while the operator's finalizer holds it (the operator removes it at once)",
    ),
    ("ModelVersion", "no-status"): ("ready", as_applied, "as applied, before the operator's first reconcile"),
    ("ModelVersion", "pending"): (
        "verifying",
        pending,
        "the status the operator's builder gives before any verdict; the operator writes Verifying "
        "on its first reconcile, so Pending is never seen on a cluster",
    ),
    ("InferenceService", "no-status"): (
        "ready",
        as_applied,
        "as applied, before the operator's first reconcile",
    ),
}


def files() -> dict[Path, str]:
    out: dict[Path, str] = {}
    for (kind, case), (source, make, why) in SYNTHETIC.items():
        recorded = KINDS / kind / "testdata" / f"{source}.yaml"
        body = make(yaml.safe_load(recorded.read_text()))
        header = f"# Synthetic, made by argocd/testdata.py from the recorded {source}.yaml: {why}.\n"
        out[KINDS / kind / "testdata" / f"{case}.yaml"] = header + yaml.safe_dump(body, sort_keys=False)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed file differs")
    args = parser.parse_args(argv)
    stale_files = []
    for path, text in files().items():
        if path.is_file() and path.read_text().startswith(RECORDED):
            raise SystemExit(f"{path.relative_to(REPO)} is recorded: testdata.py must not write it")
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale_files.append(str(path.relative_to(REPO)))
        else:
            path.write_text(text)
    if stale_files:
        print(
            "stale (run PYTHONPATH=operator python argocd/testdata.py):",
            *stale_files,
            sep="\n  ",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
