"""settings_from_env and worker_command: the pod's environment and argv as torchrun would read them."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from lepton.runtime.grace import shutdown_timeout
from lepton.runtime.launch_env import UsageError, settings_from_env, worker_command
from lepton.runtime.output import resolve_output

POD = {
    "MASTER_ADDR": "job-worker-0.job.ns.svc", "MASTER_PORT": "29500", "WORLD_SIZE": "4", "NNODES": "2",
    "NODE_RANK": "1", "NPROC_PER_NODE": "2", "LEPTON_JOB_NAME": "job",
}  # fmt: skip


def test_static_job_from_plain_names() -> None:
    s = settings_from_env(POD)
    assert (s.min_nodes, s.max_nodes, s.nproc_per_node, s.node_rank) == (2, 2, 2, 1)
    assert s.rdzv_backend == "static"
    assert s.rdzv_endpoint == "job-worker-0.job.ns.svc:29500"
    assert s.rdzv_configs == {"rank": 1}
    assert s.run_id == "job"
    assert s.max_restarts == 0


def test_pet_names_win_like_in_torchrun() -> None:
    s = settings_from_env({**POD, "PET_NODE_RANK": "0", "PET_MASTER_PORT": "1234", "PET_NPROC_PER_NODE": "3"})
    assert (s.node_rank, s.nproc_per_node, s.rdzv_endpoint) == (0, 3, "job-worker-0.job.ns.svc:1234")


def test_elastic_job() -> None:
    env = {
        **POD, "NNODES": "1:3", "PET_NNODES": "1:3", "PET_RDZV_BACKEND": "c10d",
        "PET_RDZV_ENDPOINT": "job-worker-0.job.ns.svc:29400", "PET_RDZV_ID": "uid-1", "PET_MAX_RESTARTS": "5",
        "PET_RDZV_CONF": "last_call_timeout=2, join_timeout=60",
    }  # fmt: skip
    s = settings_from_env(env)
    assert (s.min_nodes, s.max_nodes, s.max_restarts) == (1, 3, 5)
    assert (s.rdzv_backend, s.rdzv_endpoint, s.run_id) == ("c10d", "job-worker-0.job.ns.svc:29400", "uid-1")
    assert s.rdzv_configs == {"last_call_timeout": "2", "join_timeout": "60"}


def test_defaults_outside_a_pod() -> None:
    s = settings_from_env({})
    assert (s.min_nodes, s.max_nodes, s.node_rank, s.rdzv_endpoint) == (1, 1, 0, "127.0.0.1:29500")
    assert s.nproc_per_node >= 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NNODES": "two"}, "not N or MIN:MAX"),
        ({"NNODES": "3:1"}, "0 < min <= max"),
        ({"NNODES": "1:2"}, "needs PET_RDZV_BACKEND"),
        ({"NPROC_PER_NODE": "0"}, "at least 1"),
        ({"NODE_RANK": "x"}, "NODE_RANK='x'"),
        ({"PET_MAX_RESTARTS": "-1"}, ">= 0"),
        ({"PET_RDZV_CONF": "novalue"}, "key=value"),
        ({"LEPTON_TERMINATION_GRACE_SECONDS": "90s"}, "whole number of seconds"),
        ({"LEPTON_TERMINATION_GRACE_SECONDS": "-1"}, "must not be negative"),
    ],
    ids=["nnodes-garbage", "nnodes-inverted", "elastic-without-c10d", "no-processes", "rank-garbage",
         "negative-restarts", "rdzv-conf-garbage", "grace-garbage", "grace-negative"],
)  # fmt: skip
def test_bad_environment_is_a_usage_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        settings_from_env(env)


@pytest.mark.parametrize(
    ("grace", "timeout"),
    [(120, 115), (90, 85), (30, 25), (10, 5), (6, 3), (1, 1), (0, 1)],
)
def test_the_agent_shutdown_timeout_is_the_grace_period_less_a_margin(grace: int, timeout: int) -> None:
    # The default grace period (30 s) used to equal torch's timeout: the kubelet then killed the
    # agent at the moment it killed the workers, before it could report their status.
    assert shutdown_timeout(grace) == timeout
    env = {**POD, "LEPTON_TERMINATION_GRACE_SECONDS": str(grace), "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "30"}
    assert settings_from_env(env).shutdown_timeout == timeout


def test_without_a_grace_period_torch_keeps_its_own_timeout() -> None:
    assert settings_from_env({**POD, "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "7"}).shutdown_timeout is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-m", "pkg.train", "--lr", "1"], (sys.executable, ["-u", "-m", "pkg.train", "--lr", "1"])),
        (["train.py", "-x"], (sys.executable, ["-u", "train.py", "-x"])),
        (["--no-python", "bash", "-c", "true"], ("bash", ["-c", "true"])),
        (["python3", "train.py"], ("python3", ["train.py"])),
    ],
    ids=["module", "script", "no-python", "program"],
)
def test_worker_command(argv: list[str], expected: tuple[str, list[str]]) -> None:
    assert worker_command(argv) == expected


@pytest.mark.parametrize("argv", [[], ["-m"], ["--help"], ["--bogus", "x"], ["--no-python"]])
def test_bad_command_line(argv: list[str]) -> None:
    with pytest.raises(UsageError, match="usage: lepton-train"):
        worker_command(argv)


@pytest.mark.parametrize(
    ("env", "directory", "uri"),
    [
        ({}, str(Path(tempfile.gettempdir()) / "lepton-output"), None),
        ({"LEPTON_OUTPUT_DIR": "/out"}, "/out", None),
        ({"LEPTON_OUTPUT_DIR": "/out", "LEPTON_OUTPUT_URI": "s3://b/m"}, "/out", "s3://b/m"),
        ({"LEPTON_OUTPUT_URI": "file:///models/a%20b"}, "/models/a b", "file:///models/a%20b"),
        ({"LEPTON_OUTPUT_URI": "pvc://models/clf/v1"}, "/mnt/pvc/models/clf/v1", "pvc://models/clf/v1"),
        (
            {"LEPTON_OUTPUT_URI": "pvc://models/clf", "LEPTON_PVC_ROOT": "/claims"},
            "/claims/models/clf",
            "pvc://models/clf",
        ),
    ],
    ids=["default", "dir", "dir-and-uri", "file-uri", "pvc", "pvc-root"],
)
def test_output_location(env: dict[str, str], directory: str, uri: str | None) -> None:
    location = resolve_output(env)
    assert (location.directory, location.uri, location.upload_to) == (Path(directory), uri, None)


def test_s3_output_is_uploaded() -> None:
    location = resolve_output({"LEPTON_OUTPUT_URI": "s3://bucket/models/v1"})
    assert location.upload_to == "s3://bucket/models/v1"
    assert location.uri == "s3://bucket/models/v1"


def test_unknown_output_scheme() -> None:
    with pytest.raises(ValueError, match="unsupported scheme"):
        resolve_output({"LEPTON_OUTPUT_URI": "gs://bucket/x"})
