"""What `lepton get` and `describe` print, from objects as the API server returns them."""

from __future__ import annotations

import datetime as dt

import pytest

from lepton.cli import tables

NOW = dt.datetime(2025, 1, 2, 12, 0, 0, tzinfo=dt.UTC)


def meta(name: str, namespace: str = "team", created: str = "2025-01-02T11:55:00Z") -> dict:
    return {"name": name, "namespace": namespace, "creationTimestamp": created}


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 600, "3h10m"), (30 * 3600, "30h"),
     (3 * 86400 + 3600, "3d1h"), (9 * 86400, "9d")],
)  # fmt: skip
def test_age_as_kubectl_shows_it(seconds, shown):
    created = (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tables.age(created, NOW) == shown


def test_trainingjob_row_shows_progress_and_model_version():
    job = {
        "metadata": meta("mnist"),
        "spec": {"replicas": 4},
        "status": {
            "phase": "Running",
            "replicas": {"ready": 3},
            "gpus": 32,
            "restartCount": 1,
            "progress": {"epoch": 2, "step": 1200, "loss": 0.12345, "samplesPerSecond": 5321.0},
            "modelVersion": "",
        },
    }
    headers, rows = tables.table("TrainingJob", [job], NOW)
    assert headers == ["NAME", "PHASE", "READY", "GPUS", "RESTARTS", "PROGRESS", "MODEL VERSION", "AGE"]
    assert rows == [
        ["mnist", "Running", "3/4", "32", "1", "epoch 2, step 1200, loss 0.1235, 5,321.0 samples/s", "", "5m"]
    ]


def test_trainingjob_without_status_yet():
    _, rows = tables.table("TrainingJob", [{"metadata": meta("new"), "spec": {}}], NOW)
    assert rows == [["new", "", "0/1", "", "0", "", "", "5m"]]


def test_inferenceservice_row_shows_the_canary_and_the_autoscalers_replicas():
    isvc = {
        "metadata": meta("web"),
        "spec": {"model": {"name": "mnist"}, "replicas": 1},
        "status": {
            "phase": "RollingOut",
            "currentVersion": "v1",
            "readyReplicas": 2,
            "autoscaler": {"desiredReplicas": 3},
            "canary": {"version": "v2", "weight": 20},
        },
    }
    headers, rows = tables.table("InferenceService", [isvc], NOW, all_namespaces=True)
    assert headers[:2] == ["NAMESPACE", "NAME"]
    assert rows == [["team", "web", "mnist", "v1", "RollingOut", "2/3", "v2 20%", "5m"]]


def test_modelversion_rows_sorted_by_namespace_then_name():
    def mv(name: str, ns: str) -> dict:
        spec = {"model": "m", "version": name, "source": {"format": "safetensors"},
                "origin": {"trainingJob": {"name": "job"}}}  # fmt: skip
        return {"metadata": meta(name, ns), "spec": spec, "status": {"phase": "Ready", "servedBy": ["web"]}}

    _, rows = tables.table("ModelVersion", [mv("b", "y"), mv("a", "y"), mv("z", "x")], NOW, True)
    assert [r[:2] for r in rows] == [["x", "z"], ["y", "a"], ["y", "b"]]
    assert rows[0][2:] == ["m", "z", "Ready", "safetensors", "job", "web", "5m"]


def test_conditions_carry_their_meaning():
    waits = "needs 4 pods x 8 GPUs; 1 fit now"
    job = {
        "status": {
            "conditions": [{"type": "Queued", "status": "True", "reason": "WaitingForGPUs", "message": waits}]
        }
    }
    [row] = tables.conditions("TrainingJob", job)
    assert row[:4] == ["Queued", "True", "WaitingForGPUs", "needs 4 pods x 8 GPUs; 1 fit now"]
    assert "gang does not fit" in row[4]


def test_summary_leaves_out_what_is_unset():
    job = {
        "metadata": meta("j"),
        "spec": {"replicas": 2},
        "status": {"phase": "Queued", "admissionMessage": "x"},
    }
    labels = [label for label, _ in tables.summary("TrainingJob", job)]
    assert labels == ["Name", "Namespace", "Phase", "Replicas", "Waiting for"]
