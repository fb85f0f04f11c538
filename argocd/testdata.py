"""Write (or check) the Argo CD health-check test objects under argocd/resource_customizations.

Each object is an example from examples/ with the status the operator would write, computed by
the operator's own pure builders: TrainingJob conditions by policies.status.conditions_for (the
keys of policies/job_status.py build_status around them), ModelVersion status by
policies.verification.status_of, InferenceService phase and conditions by policies.inference.assess
(the keys of policies/inference.py status_of around them). So a change in what the
operator writes shows up as a diff here, and the health checks are tested against real shapes.

    PYTHONPATH=operator python argocd/testdata.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from lepton.api.common import Condition, set_condition
from lepton.api.modelversion import ModelVersion, ModelVersionPhase
from lepton.api.trainingjob import TrainingJobReason
from lepton.policies.activation import Activation, assessed
from lepton.policies.inference import DeploymentState, Plan, assess
from lepton.policies.models import Resolution, Unresolved, VersionInfo
from lepton.policies.status import Phase, conditions_for
from lepton.policies.verification import Verdict, status_of

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
KINDS = ROOT / "resource_customizations" / "lepton.ai"
T0 = "2026-01-15T10:00:00Z"
UID = "0b6c7a52-4a1e-4d8e-9a51-3c2f1e7d9a10"


def example(name: str, generation: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((REPO / "examples" / name).read_text())
    body["metadata"].update(
        namespace="ml-team", uid=UID, generation=generation, creationTimestamp=T0, resourceVersion="48213"
    )
    return body


def dump_conditions(conditions: list[Condition]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions]


# TrainingJob: a history of (phase, reason, message, minute) steps, as the controller walks them.
JOB_STEPS: dict[str, tuple[Phase, TrainingJobReason, str]] = {
    "created": (Phase.CREATED, TrainingJobReason.CREATED, ""),
    "queued": (Phase.QUEUED, TrainingJobReason.WAITING_FOR_GPUS, "needs 2 pods x 8 GPUs; 1 fit now"),
    "admitted": (Phase.ADMITTED, TrainingJobReason.ADMITTED, "all workers fit on the free GPUs"),
    "running": (Phase.RUNNING, TrainingJobReason.ALL_WORKERS_RUNNING, "2 of 2 workers running"),
    "restarting": (
        Phase.RESTARTING,
        "WorkerFailed",
        "worker classifier-cpu-worker-1 exited with code 1; replacing it while 1 workers keep running",
    ),
    "succeeded": (Phase.SUCCEEDED, TrainingJobReason.SUCCEEDED, "rank 0 succeeded; 2 of 2 workers succeeded"),
    "failed": (
        Phase.FAILED,
        "BackoffLimitExceeded",
        "worker classifier-cpu-worker-0 exited with code 1; backoffLimit 3 reached after 3 restarts",
    ),
    "suspended": (
        Phase.SUSPENDED,
        "Suspended",
        "spec.runPolicy.suspend is true: workers stopped, GPUs released",
    ),
}
JOB_PATHS: dict[str, tuple[str, ...]] = {
    "created": ("created",),
    "queued": ("created", "queued"),
    "admitted": ("created", "queued", "admitted"),
    "running": ("created", "queued", "admitted", "running"),
    "restarting": ("created", "admitted", "running", "restarting"),
    "succeeded": ("created", "admitted", "running", "succeeded"),
    "failed": ("created", "admitted", "running", "restarting", "failed"),
    "suspended": ("created", "admitted", "running", "suspended"),
}


def job_status(path: tuple[str, ...], generation: int) -> dict[str, Any]:
    conditions: list[Condition] = []
    for minute, step in enumerate(path):
        phase, reason, message = JOB_STEPS[step]
        at = f"2026-01-15T10:{minute:02d}:00Z"
        conditions = conditions_for(phase, reason, message, conditions, generation=generation, at=at)
    phase, _, message = JOB_STEPS[path[-1]]
    restarts = path.count("restarting") + (3 if phase is Phase.FAILED else 0)
    status: dict[str, Any] = {
        "phase": phase.value,
        "conditions": dump_conditions(conditions),
        "replicas": {
            "active": 2 if phase in (Phase.ADMITTED, Phase.RUNNING, Phase.RESTARTING) else 0,
            "ready": 2 if phase is Phase.RUNNING else (1 if phase is Phase.RESTARTING else 0),
            "succeeded": 2 if phase is Phase.SUCCEEDED else 0,
            "failed": 1 if phase in (Phase.RESTARTING, Phase.FAILED) else 0,
        },
        "restartCount": restarts,
        "nodeLossRestarts": 0,
        "gpus": 16 if phase.holds_admission else 0,
        "admissionMessage": message if phase is Phase.QUEUED else None,
        "startTime": "2026-01-15T10:02:00Z" if "admitted" in path else None,
        "completionTime": "2026-01-15T10:04:00Z" if phase in (Phase.SUCCEEDED, Phase.FAILED) else None,
        "observedGeneration": generation,
    }
    return {k: v for k, v in status.items() if v is not None}


def training_jobs() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, path in JOB_PATHS.items():
        body = example("trainingjob-cpu.yaml")
        body["status"] = job_status(path, 1)
        out[name] = body
    out["no-status"] = example("trainingjob-cpu.yaml")
    stale = example("trainingjob-cpu.yaml", generation=2)
    stale["status"] = job_status(JOB_PATHS["suspended"], 1)
    out["stale-generation"] = stale
    deleting = example("trainingjob-cpu.yaml")
    deleting["metadata"].update(deletionTimestamp="2026-01-15T11:00:00Z", finalizers=["lepton.ai/finalizer"])
    deleting["status"] = job_status(JOB_PATHS["running"], 1)
    out["deleting"] = deleting
    return out


MV_VERDICTS: dict[str, Verdict | None] = {
    "pending": None,
    "verifying": Verdict(
        ModelVersionPhase.VERIFYING, "Verifying", "verification Job classifier-v1-verify running"
    ),
    "ready": Verdict(
        ModelVersionPhase.READY,
        "Verified",
        "digest matches and the model loads",
        digest="sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        size_bytes=52_428,
    ),
    "failed": Verdict(
        ModelVersionPhase.FAILED,
        "DigestMismatch",
        "digest sha256:1b4f0e98 does not match spec.source.digest sha256:9f86d081",
    ),
}


def model_versions() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, verdict in MV_VERDICTS.items():
        body = example("modelversion.yaml")
        mv = ModelVersion.model_validate(body)
        served = ["classifier"] if name == "ready" else []
        body["status"] = status_of(mv, verdict, served, "2026-01-15T10:05:00Z")
        out[name] = body
    out["no-status"] = example("modelversion.yaml")
    return out


V1 = VersionInfo("classifier-v1", "classifier", "v1", ModelVersionPhase.READY)


def deployment(version: str, replicas: int, ready: int) -> DeploymentState:
    return DeploymentState(
        name=f"classifier-{version}", version=version, replicas=replicas, current=replicas, ready=ready,
        available=ready, updated=replicas, generation=1, observed_generation=1,
    )  # fmt: skip


# InferenceService: (plan, wanted replicas, resolution, deployments, was_ready).
ISVC_CASES: dict[str, tuple[Plan, int, Resolution, list[DeploymentState], bool]] = {
    "pending": (
        Plan(),
        2,
        Resolution(None, Unresolved.NOT_READY, "ModelVersion classifier-v1 is Verifying"),
        [],
        False,
    ),
    "deploying": (Plan(current_version="v1"), 2, Resolution(V1), [deployment("v1", 2, 1)], False),
    "ready": (Plan(current_version="v1"), 2, Resolution(V1), [deployment("v1", 2, 2)], True),
    "rolling-out": (
        Plan(current_version="v1", rolling_to="v2"),
        2,
        Resolution(V1),
        [deployment("v1", 2, 2), deployment("v2", 2, 1)],
        True,
    ),
    "degraded": (Plan(current_version="v1"), 2, Resolution(V1), [deployment("v1", 2, 1)], True),
    "scaled-to-zero": (Plan(current_version="v1"), 0, Resolution(V1), [deployment("v1", 0, 0)], True),
    "activating": (Plan(current_version="v1"), 1, Resolution(V1), [deployment("v1", 1, 0)], True),
    "failed": (
        Plan(),
        2,
        Resolution(None, Unresolved.FAILED, "ModelVersion classifier-v1 failed verification: DigestMismatch"),
        [],
        False,
    ),
}


def inference_services() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, (plan, replicas, resolution, deployments, was_ready) in ISVC_CASES.items():
        body = example("inferenceservice.yaml")
        a = assess(
            the_plan=plan,
            replicas=replicas,
            resolution=resolution,
            deployments=deployments,
            was_ready=was_ready,
        )
        if name == "activating":  # scaled up from zero, the activator holding requests
            a = assessed(
                a, Activation(activator=True, to_activator=True, backend_version="v1", activating=True)
            )
        conditions: list[Condition] = []
        for type_, value in (
            ("Ready", a.ready),
            ("Degraded", a.degraded),
            ("RolloutProgressing", a.progressing),
        ):
            conditions = set_condition(
                conditions, type_, value.status, value.reason, value.message, observed_generation=1, at=T0
            )
        version = plan.current_version
        status = {
            "phase": a.phase.value,
            "url": "http://classifier.ml-team.svc.cluster.local/v2/models/classifier",
            "replicas": a.replicas,
            "readyReplicas": a.ready_replicas,
            "selector": "lepton.ai/inferenceservice=classifier",
            "currentVersion": version,
            "traffic": [{"version": version, "weight": 100}] if version else None,
            "conditions": dump_conditions(conditions),
            "observedGeneration": 1,
        }
        body["status"] = {k: v for k, v in status.items() if v is not None}
        out[name] = body
    out["no-status"] = example("inferenceservice.yaml")
    return out


def files() -> dict[Path, str]:
    out: dict[Path, str] = {}
    for kind, objects in (
        ("TrainingJob", training_jobs()),
        ("ModelVersion", model_versions()),
        ("InferenceService", inference_services()),
    ):
        for name, body in objects.items():
            text = "# Generated by argocd/testdata.py from the operator's status builders; do not edit.\n"
            out[KINDS / kind / "testdata" / f"{name}.yaml"] = text + yaml.safe_dump(body, sort_keys=False)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in files().items():
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            path.write_text(text)
    if stale:
        print(
            "stale (run PYTHONPATH=operator python argocd/testdata.py):", *stale, sep="\n  ", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
