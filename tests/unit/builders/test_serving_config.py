"""Serving settings from the environment: defaults, parsing, and errors naming the variable."""

from __future__ import annotations

import pytest

from lepton.builders.serving_config import (
    ServingConfig,
    ServingConfigError,
    pod_annotations_of,
    serving_config_from_env,
)


def test_defaults():
    assert serving_config_from_env({}) == ServingConfig()


def test_every_variable():
    config = serving_config_from_env(
        {
            "LEPTON_VERIFY_IMAGE": "reg/server:1",
            "LEPTON_VERIFY_POD_ANNOTATIONS": '{"a": "1"}',
            "LEPTON_VERIFY_TOLERATIONS": '[{"key": "k", "operator": "Exists"}]',
            "LEPTON_VERIFY_NODE_SELECTOR": '{"pool": "cpu"}',
            "LEPTON_VERIFY_DEADLINE_SECONDS": "60",
            "LEPTON_VERIFY_TTL_SECONDS": "30",
            "LEPTON_POD_ANNOTATION_PREFIXES": "sim.lepton.ai/, sidecar.istio.io/",
            "LEPTON_CLUSTER_DOMAIN": "corp.example",
        }
    )
    assert config == ServingConfig(
        verify_image="reg/server:1",
        verify_pod_annotations={"a": "1"},
        verify_tolerations=({"key": "k", "operator": "Exists"},),
        verify_node_selector={"pool": "cpu"},
        verify_deadline_seconds=60,
        verify_ttl_seconds=30,
        pod_annotation_prefixes=("sim.lepton.ai/", "sidecar.istio.io/"),
        cluster_domain="corp.example",
    )
    assert config.copied_annotations({"sim.lepton.ai/exit-code": "1", "other": "x"}) == {
        "sim.lepton.ai/exit-code": "1"
    }


def test_no_prefixes_copy_nothing():
    assert ServingConfig().copied_annotations({"sim.lepton.ai/exit-code": "1"}) == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEPTON_VERIFY_POD_ANNOTATIONS": "{"}, "LEPTON_VERIFY_POD_ANNOTATIONS is not valid JSON"),
        ({"LEPTON_VERIFY_POD_ANNOTATIONS": "[]"}, "LEPTON_VERIFY_POD_ANNOTATIONS must be a JSON object"),
        (
            {"LEPTON_VERIFY_NODE_SELECTOR": '{"a": 1}'},
            "LEPTON_VERIFY_NODE_SELECTOR must map names to strings",
        ),
        ({"LEPTON_VERIFY_TOLERATIONS": '{"key": "k"}'}, "LEPTON_VERIFY_TOLERATIONS must be a JSON list"),
        ({"LEPTON_VERIFY_TOLERATIONS": '["k"]'}, "LEPTON_VERIFY_TOLERATIONS must be a JSON list of objects"),
        (
            {"LEPTON_VERIFY_DEADLINE_SECONDS": "soon"},
            "LEPTON_VERIFY_DEADLINE_SECONDS='soon' is not a whole number",
        ),
        ({"LEPTON_VERIFY_TTL_SECONDS": "0"}, "LEPTON_VERIFY_TTL_SECONDS='0' must be at least 1"),
    ],
    ids=["bad-json", "not-object", "not-strings", "not-list", "list-of-strings", "not-number", "zero"],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ServingConfigError, match=message):
        serving_config_from_env(env)


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        (None, {}, None),
        ('{"sim.lepton.ai/exit-code": "1"}', {"sim.lepton.ai/exit-code": "1"}, None),
        ("{", {}, "lepton.ai/pod-annotations is not valid JSON"),
        ('{"a": 1}', {}, "must be a JSON object of strings"),
        ('["a"]', {}, "must be a JSON object of strings"),
    ],
    ids=["absent", "object", "bad-json", "not-strings", "not-object"],
)
def test_per_object_pod_annotations(value, expected, problem):
    annotations = {"lepton.ai/pod-annotations": value} if value is not None else {}
    found, message = pod_annotations_of(annotations)
    assert found == expected
    assert (message is None) == (problem is None)
    assert problem is None or problem in message
    assert ServingConfig().copied_annotations(annotations) == expected
