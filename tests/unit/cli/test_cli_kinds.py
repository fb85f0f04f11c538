"""The CLI's kind table (plain strings, for start-up speed) agrees with lepton.api."""

from __future__ import annotations

import pytest

from lepton.api import inferenceservice, modelversion, trainingjob
from lepton.client.errors import UsageError
from lepton.client.kinds import INFERENCE_SERVICE, MODEL_VERSION, TRAINING_JOB, kind_named, parse_ref


@pytest.mark.parametrize(
    ("kind", "module"),
    [(TRAINING_JOB, trainingjob), (MODEL_VERSION, modelversion), (INFERENCE_SERVICE, inferenceservice)],
)
def test_kinds_match_the_api(kind, module):
    assert (kind.kind, kind.plural, kind.short) == (module.KIND, module.PLURAL, module.SHORT_NAMES[0])
    assert kind.path("ns", "x") == f"/apis/lepton.ai/v1alpha1/namespaces/ns/{module.PLURAL}/x"
    assert kind.path(None) == f"/apis/lepton.ai/v1alpha1/{module.PLURAL}"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("tj/mnist", (TRAINING_JOB, "mnist")),
        ("trainingjobs/a", (TRAINING_JOB, "a")),
        ("mv/m-v1", (MODEL_VERSION, "m-v1")),
        ("lisvc/web", (INFERENCE_SERVICE, "web")),
        ("isvc/web", (INFERENCE_SERVICE, "web")),
        ("InferenceService/web", (INFERENCE_SERVICE, "web")),
    ],
)
def test_parse_ref(ref, expected):
    assert parse_ref(ref) == expected


def test_a_bare_name_takes_the_commands_kind():
    assert parse_ref("web", INFERENCE_SERVICE) == (INFERENCE_SERVICE, "web")


@pytest.mark.parametrize(
    ("ref", "default", "says"),
    [
        ("pod/x", None, "unknown kind 'pod'"),
        ("mnist", None, "names no kind"),
        ("tj/", None, "names no object"),
        ("tj/x", INFERENCE_SERVICE, "is a TrainingJob, this command takes a InferenceService"),
    ],
)
def test_bad_refs_say_what_to_write(ref, default, says):
    with pytest.raises(UsageError) as exc:
        parse_ref(ref, default)
    assert says in exc.value.message
    assert exc.value.hint or "this command takes" in exc.value.message


def test_kind_named_lists_the_known_ones():
    with pytest.raises(UsageError) as exc:
        kind_named("deployments")
    assert exc.value.hint == "use one of tj, mv, lisvc (or their plural names)"
