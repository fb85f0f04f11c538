"""The initializer pod and what workers see of the initializers."""

from __future__ import annotations

from typing import Any

import pytest
from test_workers import job

from lepton.builders.initializer import construct_initializer_pod, initializer_violation
from lepton.builders.workers import construct_worker_pod, job_selector

SHARED = {"name": "data", "persistentVolumeClaim": {"claimName": "shared-rwx"}}
DIGEST = "sha256:" + "0" * 64


def with_init(volume: dict[str, Any] = SHARED, env: list[dict[str, str]] | None = None, **init: Any) -> Any:
    spec = {"volume": "data", "dataset": {"uri": "s3://bucket/mnist", "digest": DIGEST}, **init}
    return job(env=env, volumes=[volume], initializers=spec)


def test_one_container_per_initializer_runs_lepton_init_into_the_shared_volume() -> None:
    tj = with_init(model={"uri": "pvc://models/base"}, env=[{"name": "AWS_REGION", "value": "x"}])
    pod = construct_initializer_pod(tj)
    spec = pod["spec"]
    dataset, model = spec["containers"]
    assert dataset["command"] == [
        "lepton-init", "--name", "dataset", "--source", "s3://bucket/mnist", "--dest", "/workspace/dataset",
        "--digest", DIGEST,
    ]  # fmt: skip
    assert model["command"][-2:] == ["--pvc-root", "/mnt/pvc"]
    assert {"name": "data", "mountPath": "/workspace"} in dataset["volumeMounts"]
    claim = next(m for m in model["volumeMounts"] if m["mountPath"] == "/mnt/pvc/models")
    assert claim["readOnly"] is True
    assert dataset["image"] == "lepton/trainer:dev", "the trainer's image by default"
    assert spec["restartPolicy"] == "Never"
    assert spec["tolerations"] == tj.spec.template.model_dump(by_alias=True)["spec"]["tolerations"]
    assert "resources" not in dataset, "no GPUs for fetching"
    labels = pod["metadata"]["labels"]
    assert not set(job_selector(tj.name)).intersection(labels), "not selected by the job's Service"
    assert pod["metadata"]["ownerReferences"][0]["name"] == tj.name


def test_workers_mount_the_volume_read_only_and_see_the_directories() -> None:
    tj = with_init(model={"uri": "https://hub/base.bin"}, path="/data")
    trainer = construct_worker_pod(tj, 1, 0)["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in trainer["env"]}
    assert env["LEPTON_DATASET_DIR"] == "/data/dataset"
    assert env["LEPTON_MODEL_DIR"] == "/data/model"
    assert {"name": "data", "mountPath": "/data", "readOnly": True} in trainer["volumeMounts"]
    plain = construct_worker_pod(job(), 0, 0)["spec"]["containers"][0]
    assert "LEPTON_DATASET_DIR" not in {e["name"] for e in plain["env"]}


@pytest.mark.parametrize(
    ("volume", "env", "message"),
    [
        ({"name": "data", "emptyDir": {}}, None, "pod-local volume"),
        ({"name": "data", "ephemeral": {"volumeClaimTemplate": {}}}, None, "pod-local volume"),
        (SHARED, [{"name": "LEPTON_MODEL_DIR", "value": "/x"}], "sets LEPTON_MODEL_DIR"),
    ],
    ids=["emptyDir", "ephemeral", "own directory variable"],
)
def test_initializers_that_cannot_work_are_refused(volume: Any, env: Any, message: str) -> None:
    violation = initializer_violation(with_init(volume, env=env))
    assert violation is not None
    assert message in violation
    assert initializer_violation(with_init()) is None


def test_the_volume_must_exist_and_something_must_be_fetched() -> None:
    with pytest.raises(ValueError, match=r"initializers\.volume must name a volume"):
        job(volumes=[SHARED], initializers={"volume": "other", "model": {"uri": "s3://b/m"}})
    with pytest.raises(ValueError, match="needs a dataset or a model"):
        job(volumes=[SHARED], initializers={"volume": "data"})
    with pytest.raises(ValueError, match="String should match pattern"):
        job(volumes=[SHARED], initializers={"volume": "data", "model": {"uri": "gs://b/m"}})
