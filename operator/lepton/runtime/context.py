"""Where this process stands in the job: ranks, device, directories, restart attempt."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from lepton.runtime import env
from lepton.runtime.output import resolve_output


@dataclasses.dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node_rank: int
    device: torch.device
    backend: str
    checkpoint_dir: Path | None
    output_dir: Path
    output_uri: str | None
    # LEPTON_OUTPUT_FORMAT: the format save_model writes unless told otherwise.
    output_format: str
    restart_attempt: int
    # Restarts the elastic agent made inside this pod (membership changes, worker failures).
    local_restart_count: int
    job_name: str | None
    namespace: str | None

    @property
    def is_primary(self) -> bool:
        """Rank 0: the one process that writes checkpoints, metrics and the artifact."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def default_backend() -> str:
    """LEPTON_DIST_BACKEND when set (the launcher exports it), else nccl with CUDA, gloo without."""
    chosen = os.environ.get(env.DIST_BACKEND)
    if chosen:
        return chosen
    return "nccl" if torch.cuda.is_available() else "gloo"


def context() -> Context:
    """Read the job's environment: torchrun's worker variables (RANK, LOCAL_RANK, ...) and Lepton's.

    Outside a launcher (a plain ``python train.py``) it describes a one-process job.
    """
    local_rank = env.get_int("LOCAL_RANK", default=0)
    backend = default_backend()
    if backend == "nccl" and torch.cuda.is_available():
        device = torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    else:
        device = torch.device("cpu")
    checkpoint_dir = env.get(env.CHECKPOINT_DIR)
    output = resolve_output(os.environ)
    return Context(
        rank=env.get_int("RANK", default=0),
        world_size=env.get_int("WORLD_SIZE", default=1),
        local_rank=local_rank,
        local_world_size=env.get_int("LOCAL_WORLD_SIZE", default=1),
        node_rank=env.get_int("GROUP_RANK", "PET_NODE_RANK", "NODE_RANK", default=0),
        device=device,
        backend=backend,
        checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else None,
        output_dir=output.directory,
        output_uri=output.uri,
        output_format=env.get(env.OUTPUT_FORMAT, default="torch-export") or "torch-export",
        restart_attempt=env.get_int(env.RESTART_ATTEMPT, default=0),
        local_restart_count=env.get_int("TORCHELASTIC_RESTART_COUNT", default=0),
        job_name=env.get(env.JOB_NAME),
        namespace=env.get(env.NAMESPACE),
    )


def init_process_group(timeout: timedelta = timedelta(minutes=10)) -> Context:
    """Join the job's process group (env:// rendezvous set up by the launcher) with the default
    backend, pin the CUDA device, and return the context. A one-process job needs no group."""
    ctx = context()
    if ctx.device.type == "cuda":
        torch.cuda.set_device(ctx.device)
    if ctx.distributed and not dist.is_initialized():
        kwargs: dict[str, object] = {"backend": ctx.backend, "timeout": timeout}
        if ctx.device.type == "cuda":
            kwargs["device_id"] = ctx.device
        dist.init_process_group(**kwargs)  # type: ignore[arg-type]
    return ctx


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
