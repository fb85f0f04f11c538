"""The rendezvous and identity environment of a worker (docs/architecture.md, "Training pods")."""

from __future__ import annotations

from lepton.api.trainingjob import TrainingJob

# Everything the operator sets in the trainer container. A user value for any of these would
# silently break the rendezvous, so such a job is refused instead.
RESERVED_ENV = frozenset(
    {
        "MASTER_ADDR",
        "PET_MASTER_ADDR",
        "MASTER_PORT",
        "PET_MASTER_PORT",
        "WORLD_SIZE",
        "NNODES",
        "PET_NNODES",
        "NODE_RANK",
        "PET_NODE_RANK",
        "NPROC_PER_NODE",
        "PET_NPROC_PER_NODE",
        "PET_RDZV_BACKEND",
        "PET_RDZV_ENDPOINT",
        "PET_RDZV_ID",
        "PET_MAX_RESTARTS",
        "LEPTON_JOB_NAME",
        "LEPTON_NAMESPACE",
        "LEPTON_RESTART_ATTEMPT",
        "LEPTON_TERMINATION_GRACE_SECONDS",
        "LEPTON_CHECKPOINT_DIR",
        "LEPTON_OUTPUT_URI",
        "LEPTON_OUTPUT_FORMAT",
    }
)


def reserved_env_violation(job: TrainingJob) -> str | None:
    """A message naming the reserved variables the user set in the trainer container, or None."""
    names = sorted({e.name for e in job.spec.trainer().env or []} & RESERVED_ENV)
    if not names:
        return None
    listed = ", ".join(names)
    noun = "variable" if len(names) == 1 else "variables"
    return (
        f"template container 'trainer' sets reserved environment {noun} {listed}: "
        "Lepton sets these for the rendezvous; remove them from spec.template"
    )


def master_addr(job: TrainingJob) -> str:
    return f"{job.name}-worker-0.{job.name}.{job.namespace}.svc"


def worker_env(job: TrainingJob, index: int, attempt: int) -> list[dict[str, str]]:
    spec = job.spec
    nproc = spec.effective_nproc_per_node()
    addr = master_addr(job)
    port = str(spec.master_port)
    nnodes = (
        f"{spec.elastic.min_replicas}:{spec.elastic.max_replicas}" if spec.elastic else str(spec.replicas)
    )
    pairs: list[tuple[str, str]] = [
        ("MASTER_ADDR", addr),
        ("PET_MASTER_ADDR", addr),
        ("MASTER_PORT", port),
        ("PET_MASTER_PORT", port),
        ("WORLD_SIZE", str(spec.replicas * nproc)),
        ("NNODES", nnodes),
        ("PET_NNODES", nnodes),
        ("NODE_RANK", str(index)),
        ("PET_NODE_RANK", str(index)),
        ("NPROC_PER_NODE", str(nproc)),
        ("PET_NPROC_PER_NODE", str(nproc)),
    ]
    if spec.elastic:
        pairs += [
            ("PET_RDZV_BACKEND", "c10d"),
            ("PET_RDZV_ENDPOINT", f"{addr}:{port}"),
            ("PET_RDZV_ID", job.metadata.uid or job.name),
            ("PET_MAX_RESTARTS", str(spec.elastic.max_restarts)),
        ]
    pairs += [
        ("LEPTON_JOB_NAME", job.name),
        ("LEPTON_NAMESPACE", job.namespace),
        ("LEPTON_RESTART_ATTEMPT", str(attempt)),
        # The downward API does not expose the pod's grace period: lepton-train gives torchelastic's
        # agent this much (minus a margin) to let the workers checkpoint after SIGTERM.
        ("LEPTON_TERMINATION_GRACE_SECONDS", str(spec.run_policy.termination_grace_period_seconds)),
    ]
    if spec.checkpoint:
        pairs.append(("LEPTON_CHECKPOINT_DIR", spec.checkpoint.path))
    if spec.output:
        if spec.output.uri:
            pairs.append(("LEPTON_OUTPUT_URI", spec.output.uri))
        pairs.append(("LEPTON_OUTPUT_FORMAT", spec.output.format.value))
    return [{"name": name, "value": value} for name, value in pairs]
