"""Rank 0's termination message becomes a ModelVersion."""

from __future__ import annotations

import json

import pytest

from lepton.api import ModelVersion, TrainingJob
from lepton.builders.modelversion import ResultError, construct_model_version, parse_termination_message

DIGEST = "sha256:" + "a" * 64


def job(output):
    return TrainingJob.model_validate(
        {
            "metadata": {"name": "mnist", "namespace": "ml", "uid": "u-1"},
            "spec": {
                "template": {"spec": {"containers": [{"name": "trainer"}]}},
                **({"output": output} if output else {}),
            },
        }
    )


MESSAGE = json.dumps(
    {
        "metrics": {"loss": 0.01, "epoch": 10},
        "artifact": {"uri": "pvc://models/mnist/1", "digest": DIGEST, "format": "torch-export"},
    }
)


def test_model_version_from_termination_message():
    body = construct_model_version(
        job({"model": "mnist", "version": "v1"}), parse_termination_message(MESSAGE)
    )
    assert body is not None
    assert "ownerReferences" not in body["metadata"], "a ModelVersion outlives its job"
    mv = ModelVersion.model_validate(body)
    assert (mv.name, mv.spec.model, mv.spec.version) == ("mnist-v1", "mnist", "v1")
    assert mv.spec.metrics == {"loss": 0.01, "epoch": 10.0}
    assert mv.spec.source.digest == DIGEST
    assert mv.spec.origin is not None
    assert mv.spec.origin.training_job is not None
    assert (mv.spec.origin.training_job.name, mv.spec.origin.training_job.uid) == ("mnist", "u-1")


def test_version_defaults_to_job_name_and_no_output_means_none():
    body = construct_model_version(job({"model": "mnist"}), parse_termination_message(MESSAGE))
    assert body is not None
    assert body["metadata"]["name"] == "mnist-mnist"
    assert construct_model_version(job(None), parse_termination_message(MESSAGE)) is None


BAD = [
    ("empty", "", "no termination message"),
    ("not json", "done!", "not JSON"),
    ("not an object", "[1]", "not a JSON object"),
    ("artifact without uri", '{"artifact": {"digest": "x"}}', "artifact must be an object with a uri"),
    ("too long", json.dumps({"metrics": {"x": 1}, "pad": "x" * 5000}), "longer than 4096"),
]


@pytest.mark.parametrize(("scenario", "message", "error"), BAD, ids=[b[0] for b in BAD])
def test_bad_messages(scenario, message, error):
    with pytest.raises(ResultError, match=error):
        parse_termination_message(message)
