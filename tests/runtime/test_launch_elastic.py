"""Elastic job (c10d rendezvous, NNODES=1:2): a pod leaves, training goes on; a replacement joins."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from conftest import EXAMPLE, LEPTON_TRAIN, Pod, Pods, design_pod_env, logs
from lepton.runtime.checkpoint import checkpoint_path
from support.ports import free_port
from support.wait import wait_for

pytestmark = pytest.mark.slow

RDZV_TIMERS = "last_call_timeout=1,keep_alive_interval=1,keep_alive_max_attempt=5"
RESUMED = re.compile(r"resumed at epoch (\d+) \(restart attempt 0, world size (\d+)\)")


def _elastic_env(index: int, port: int, root: Path) -> dict[str, str]:
    env = design_pod_env(job="elastic", replicas=2, nproc=1, index=index, port=port, root=root)
    env.update(
        NNODES="1:2",
        PET_NNODES="1:2",
        PET_RDZV_BACKEND="c10d",
        PET_RDZV_ENDPOINT=f"127.0.0.1:{port}",
        PET_RDZV_ID="elastic-uid",
        PET_MAX_RESTARTS="3",
        # Short rendezvous timers so membership changes take seconds, not the 30 s defaults. In a
        # cluster the pod behind PET_RDZV_ENDPOINT finds itself by hostname; here every "pod" has
        # the same one, so it is said explicitly, as is the address other agents reach it at.
        PET_RDZV_CONF=f"{RDZV_TIMERS},is_host={index == 0}",
        PET_LOCAL_ADDR="127.0.0.1",
    )
    return env


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _resumes(*group: Pod, after: int = 0) -> list[tuple[int, int]]:
    """(epoch, world size) of each rendezvous round worker 0 took part in, from round ``after`` on."""
    return [(int(m[1]), int(m[2])) for pod in group for m in RESUMED.finditer(pod.output())][after:]


def test_worker_leaves_and_replacement_joins(pods: Pods, tmp_path: Path) -> None:
    port = free_port()
    epochs = 14
    argv = [LEPTON_TRAIN, *EXAMPLE, "--epochs", str(epochs), "--min-epochs", str(epochs)]
    argv += ["--target-loss", "1.0", "--step-delay", "0.03"]
    first = pods.start("worker-0", argv, _elastic_env(0, port, tmp_path))
    # Worker 0 hosts the rendezvous store, as the pod behind PET_RDZV_ENDPOINT does in a cluster.
    wait_for(lambda: _listening(port), 120, "the rendezvous store", seen=lambda: logs(first))
    leaving = pods.start("worker-1", argv, _elastic_env(1, port, tmp_path))
    wait_for(
        lambda: checkpoint_path(tmp_path / "checkpoints", 2).exists(),
        240,
        "epoch 2 with two pods",
        seen=lambda: logs(first, leaving),
    )
    assert "world size 2" in first.output() + leaving.output(), logs(first, leaving)

    # Worker 0 may have begun alone (NNODES=1:2) before worker 1 arrived: only rounds after the
    # kill say whether training went on without it.
    before_kill = len(_resumes(first))
    pods.kill(leaving)  # the node goes away with the pod
    shrunk = wait_for(
        lambda: [r for r in _resumes(first, after=before_kill) if r[1] == 1],
        120,
        "training to go on alone",
        seen=lambda: logs(first),
    )
    before_join = len(_resumes(first))
    replacement = pods.start("worker-1-replacement", argv, _elastic_env(1, port, tmp_path))
    grown = wait_for(
        lambda: [r for r in _resumes(first, after=before_join) if r[1] == 2],
        180,
        "the replacement to join",
        seen=lambda: logs(first, replacement),
    )

    assert first.wait(timeout=300) == 0, logs(first, replacement)
    assert replacement.wait(timeout=60) == 0, logs(first, replacement)
    assert 2 <= shrunk[0][0] <= grown[0][0] < epochs
    message = first.message()
    assert message["metrics"]["epoch"] == epochs
    assert message == replacement.message()
