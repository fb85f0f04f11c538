"""``lepton-train``: one torchelastic agent per pod, configured from the injected environment.

This is torchrun's code path (``torch.distributed.launcher.api``), fed from environment variables
instead of flags, plus what a pod needs: the distributed backend exported for user code, SIGTERM
passed on to the workers with the pod's grace period to act on it (lepton.runtime.grace), and an
exit code the operator's restart policy can classify: the workers' own status, or one of the codes
below when the launch itself failed.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lepton.runtime import env
from lepton.runtime.grace import TORCH_SHUTDOWN_TIMEOUT
from lepton.runtime.launch_env import LaunchSettings, UsageError, settings_from_env, worker_command

if TYPE_CHECKING:
    from torch.distributed.launcher.api import LaunchConfig

log = logging.getLogger("lepton.runtime.launcher")

# The agent itself failed (rendezvous timeout or closed, store unreachable, ...): no fault of the
# user's script, so retrying can succeed. The ExitCode restart policy retries 128-255 and fails
# 1-127 for good; 200 is in the retryable range yet above every 128+N a signal death gives (N <= 64,
# the real-time signals included), so it is never mistaken for a kill.
AGENT_FAILURE_EXIT_CODE = 200
# The configuration cannot describe a launch (bad environment or command line): permanent.
USAGE_EXIT_CODE = 2
# The shell's "command not found": the worker program does not exist in the image, permanent.
COMMAND_NOT_FOUND_EXIT_CODE = 127


def exit_code_of(returncode: int) -> int:
    """A process's status as a shell reports it: 128 + N for death by signal N."""
    if returncode < 0:
        return 128 + (-returncode)
    return min(returncode, 255)


def _launch_config(settings: LaunchSettings) -> LaunchConfig:
    from torch.distributed.launcher.api import LaunchConfig  # noqa: PLC0415 - heavy, only when launching

    # The shutdown timeout is not passed here: LaunchConfig reads TORCH_ELASTIC_SHUTDOWN_TIMEOUT,
    # which prepare_environment sets, when it is built.
    return LaunchConfig(
        min_nodes=settings.min_nodes,
        max_nodes=settings.max_nodes,
        nproc_per_node=settings.nproc_per_node,
        run_id=settings.run_id,
        rdzv_endpoint=settings.rdzv_endpoint,
        rdzv_backend=settings.rdzv_backend,
        rdzv_configs=dict(settings.rdzv_configs),
        max_restarts=settings.max_restarts,
        monitor_interval=settings.monitor_interval,
        start_method="spawn",
        local_addr=settings.local_addr,
    )


def prepare_environment(settings: LaunchSettings) -> None:
    """Variables the agent and the workers inherit: the agent's shutdown timeout, the backend user
    code should use, and torchrun's thread cap."""
    from lepton.runtime.context import default_backend  # noqa: PLC0415 - imports torch

    if settings.shutdown_timeout is not None:
        # Replaces a value the image may set: the grace period is the one the job asked for.
        os.environ[TORCH_SHUTDOWN_TIMEOUT] = str(settings.shutdown_timeout)
    os.environ.setdefault(env.DIST_BACKEND, default_backend())
    if settings.rdzv_backend != "static":
        # torch's c10d rendezvous, when sharing its TCPStore with the workers, publishes the workers'
        # master address only in the first round an agent is rank 0 of; an agent joining a later
        # round (a replacement pod) then waits for it forever. Not sharing republishes it each round.
        os.environ.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    if settings.nproc_per_node > 1:
        # torchrun's default: N processes with all cores each would oversubscribe the pod.
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def run(argv: Sequence[str]) -> int:
    try:
        settings = settings_from_env(os.environ)
        program, args = worker_command(argv)
    except UsageError as exc:
        print(f"lepton-train: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE
    if shutil.which(program) is None:
        # Checked here because the agent would fail to start the workers, which reads as its own
        # (retryable) failure; a program missing from the image stays missing.
        print(f"lepton-train: {program}: command not found (or not executable)", file=sys.stderr)
        return COMMAND_NOT_FOUND_EXIT_CODE
    prepare_environment(settings)

    from torch.distributed.elastic.multiprocessing.api import SignalException  # noqa: PLC0415
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError  # noqa: PLC0415
    from torch.distributed.launcher.api import elastic_launch  # noqa: PLC0415

    log.info(
        "lepton-train: nodes %d:%d, %d processes per node, node rank %d, rendezvous %s at %s, backend %s, "
        "%s s for workers to stop after SIGTERM",
        settings.min_nodes,
        settings.max_nodes,
        settings.nproc_per_node,
        settings.node_rank,
        settings.rdzv_backend,
        settings.rdzv_endpoint,
        os.environ[env.DIST_BACKEND],
        os.environ.get(TORCH_SHUTDOWN_TIMEOUT, "30"),
    )
    try:
        # The agent installs SIGTERM/SIGINT handlers, sends the signal on to every worker, and gives
        # them the shutdown timeout (the pod's grace period less a margin) to checkpoint before SIGKILL.
        elastic_launch(_launch_config(settings), program)(*args)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = exit_code_of(int(failure.exitcode))
        print(f"lepton-train: worker rank {rank} failed with exit code {code}\n{exc}", file=sys.stderr)
        return code
    except SignalException as exc:
        print(f"lepton-train: stopped by {signal.Signals(exc.sigval).name}", file=sys.stderr)
        return 128 + int(exc.sigval)
    except Exception as exc:  # the agent itself failed: rendezvous timeout, closed rendezvous, ...
        print(
            f"lepton-train: the elastic agent failed (exit code {AGENT_FAILURE_EXIT_CODE}, retryable): "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return AGENT_FAILURE_EXIT_CODE
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
