"""Every example parses into its model and dumps back without losing a field."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from api_examples import EXAMPLES, MODELS, load_examples, lost_fields

CASES = load_examples()


def test_there_is_an_example_of_every_kind_and_the_promised_variants():
    kinds = {doc["kind"] for _, doc in CASES}
    assert kinds == set(MODELS)
    docs = [doc for _, doc in CASES]
    assert any("elastic" in d["spec"] for d in docs if d["kind"] == "TrainingJob")
    assert any(
        "autoscaling" in d["spec"] and "steps" in d["spec"].get("rollout", {})
        for d in docs
        if d["kind"] == "InferenceService"
    )
    cpu_jobs = [
        d
        for d in docs
        if d["kind"] == "TrainingJob"
        and not any(
            "nvidia.com/gpu" in str(c.get("resources")) for c in d["spec"]["template"]["spec"]["containers"]
        )
    ]
    assert cpu_jobs, "a CPU-only TrainingJob example is promised"


@pytest.mark.parametrize(("name", "doc"), CASES, ids=[name for name, _ in CASES])
def test_example_round_trips_through_its_model_without_losing_a_field(name: str, doc: dict[str, Any]):
    model = MODELS[doc["kind"]].model_validate(doc)
    dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert lost_fields(doc, dumped) == []
    again = (
        MODELS[doc["kind"]].model_validate(dumped).model_dump(by_alias=True, exclude_none=True, mode="json")
    )
    assert again == dumped, "a second round trip must be a fixed point"


JOBS = [(name, doc) for name, doc in CASES if doc["kind"] == "TrainingJob"]


@pytest.mark.parametrize(("name", "doc"), JOBS, ids=[name for name, _ in JOBS])
def test_builtin_trainer_examples_use_the_runnable_image_and_module(name: str, doc: dict[str, Any]):
    trainer = next(c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == "trainer")
    assert trainer["image"] == "lepton/trainer:dev"
    assert trainer["command"] == ["lepton-train", "-m", "lepton.runtime.examples.classifier"]


def test_example_files_are_commented():
    for path in EXAMPLES:
        text = path.read_text()
        assert text.startswith("#"), f"{path.name} should open with a comment saying what it shows"
        assert yaml.safe_load(text), path.name


@pytest.mark.parametrize(
    ("original", "dumped", "lost"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, []),
        ({"a": {"b": 1}}, {"a": {}}, [".a.b: missing"]),
        ({"a": [1, 2]}, {"a": [1]}, [".a: [1, 2] became [1]"]),
        ({"a": 1}, {"a": 1.0}, []),
        ({"a": True}, {"a": 1}, [".a: True became 1"]),
        ({"a": "x"}, {"a": "y"}, [".a: 'x' became 'y'"]),
    ],
    ids=["extra-default", "missing-nested", "shorter-list", "int-as-float", "bool-vs-int", "changed"],
)
def test_lost_fields_detects_what_a_lossy_model_would_drop(original, dumped, lost):
    assert lost_fields(original, dumped) == lost
