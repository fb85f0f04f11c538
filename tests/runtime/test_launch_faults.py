"""Failures: exit codes the operator's restart policy sees, SIGTERM, and resuming after a lost worker."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from conftest import EXAMPLE, LEPTON_TRAIN, Pod, Pods, design_pod_env, logs
from lepton.runtime import load_latest_checkpoint
from lepton.runtime.checkpoint import checkpoint_path, list_checkpoints
from support.ports import free_port
from support.wait import wait_for

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([str(SCRIPTS / "raises.py")], 1),
        ([str(SCRIPTS / "exits.py"), "7"], 7),
        ([str(SCRIPTS / "killed.py")], 128 + signal.SIGKILL),
        ([], 2),
        # Not the agent's (retryable) failure: a program missing from the image stays missing.
        (["--no-python", "no-such-trainer"], 127),
    ],
    ids=["script-raises", "script-exits-7", "worker-killed-by-signal", "usage-error", "no-such-program"],
)
def test_exit_code_is_the_workers(pods: Pods, tmp_path: Path, argv: list[str], expected: int) -> None:
    env = design_pod_env(job="codes", replicas=1, nproc=1, index=0, port=free_port(), root=tmp_path)
    pod = pods.start("worker-0", [LEPTON_TRAIN, *argv], env)
    assert pod.wait(timeout=120) == expected, logs(pod)


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_143(pods: Pods, tmp_path: Path) -> None:
    env = design_pod_env(job="term", replicas=1, nproc=2, index=0, port=free_port(), root=tmp_path)
    argv = [LEPTON_TRAIN, *EXAMPLE, "--epochs", "200", "--min-epochs", "200", "--step-delay", "0.05"]
    pod = pods.start("worker-0", argv, env)
    wait_for(
        lambda: checkpoint_path(tmp_path / "checkpoints", 1).exists(),
        timeout=180,
        what="the first epoch's checkpoint",
        seen=lambda: logs(pod),
    )

    os.kill(pod.proc.pid, signal.SIGTERM)  # what the kubelet does: PID 1 only; the launcher forwards it

    assert pod.wait(timeout=60) == 143, logs(pod)
    said = re.search(r"SIGTERM: checkpointed at epoch (\d+), step (\d+)", pod.output())
    assert said, logs(pod)
    found = load_latest_checkpoint(directory=tmp_path / "checkpoints")
    assert found is not None
    assert (found.epoch, found.state["step"]) == (int(said[1]), int(said[2]))
    assert found.state["step"] > found.epoch * 32, (
        "the checkpoint must hold the steps taken after the last epoch"
    )


@pytest.mark.slow
def test_lost_worker_then_relaunch_resumes_from_newest_checkpoint(pods: Pods, tmp_path: Path) -> None:
    epochs = 8
    argv = [LEPTON_TRAIN, *EXAMPLE, "--epochs", str(epochs), "--min-epochs", str(epochs)]
    argv += ["--target-loss", "1.0", "--step-delay", "0.03"]

    def launch(attempt: int) -> list[Pod]:
        port = free_port()
        return [
            pods.start(
                f"attempt-{attempt}-worker-{i}",
                argv,
                design_pod_env(
                    job="fault", replicas=2, nproc=2, index=i, port=port, root=tmp_path, attempt=attempt
                ),
            )
            for i in range(2)
        ]

    first = launch(0)
    ckpts = tmp_path / "checkpoints"
    wait_for(
        lambda: checkpoint_path(ckpts, 2).exists(), 240, "epoch 2's checkpoint", seen=lambda: logs(*first)
    )
    workers = wait_for(first[1].workers, 10, "pod 1's worker processes")
    os.kill(workers[0], signal.SIGKILL)

    assert first[1].wait(timeout=90) != 0, logs(*first)
    # The operator deletes the rest of the failed attempt; a worker blocked on its lost peer may linger.
    pods.kill(first[0])
    first[0].wait(timeout=30)
    newest = list_checkpoints(ckpts)[0][0]
    assert 2 <= newest < epochs

    second = launch(1)
    assert [pod.wait(timeout=300) for pod in second] == [0, 0], logs(*second)
    assert f"resumed at epoch {newest} (restart attempt 1, world size 4)" in second[0].output(), logs(*second)
    assert second[0].message()["metrics"]["epoch"] == epochs
