"""The operator's InferenceService gauges against the status it writes, on the local cluster: at a
canary step the weight, phase, checks and replicas on /metrics are what status and the Deployments
say; after the promotion the rollout's and the old version's series are gone, and after the
service's deletion all of its series are (no stale series)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rolloutkit import annotate, canary_service, replicas, rollout_operator
from servekit import Serving, model_version

from support.operator import Operator
from support.prometheus import Prometheus
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "gauged"
STEP = [{"weight": 25, "untilPromoted": True}]


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    with rollout_operator(kubeconfig, prometheus, tmp_path_factory.mktemp("operator") / "op.log") as op:
        yield op


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def gauges(operator: Operator, namespace: str) -> Series:
    """This service's lepton_operator_inferenceservice_* and _canary_* samples, by name and labels
    (namespace and service left out)."""
    out: Series = {}
    for family in text_string_to_metric_families(operator.metrics()):
        for s in family.samples:
            if s.labels.get("namespace") == namespace and s.labels.get("service") == NAME:
                rest = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("namespace", "service")))
                out[(s.name.removeprefix("lepton_operator_"), rest)] = s.value
    return out


def named(series: Series, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {k[1]: v for k, v in series.items() if k[0] == name and labels.items() <= dict(k[1]).items()}


def at_once(serving: Serving, operator: Operator, namespace: str) -> tuple[dict[str, Any], Series] | None:
    """Status and gauges read in between two equal reads of the status (an analysis check every
    5 s changes it): a pair that belongs together, or None."""
    before = serving.status("inferenceservices", NAME)
    series = gauges(operator, namespace)
    return (before, series) if serving.status("inferenceservices", NAME) == before else None


def test_gauges_equal_the_status_at_a_step_and_go_with_the_rollout_and_the_service(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    service = canary_service(NAME)
    service["spec"]["rollout"]["steps"] = STEP
    serving.create(service)
    serving.wait_phase("inferenceservices", NAME, "Ready", 60)
    serving.create(model_version("iris", "v2"))
    wait_for(
        lambda: (serving.status("inferenceservices", NAME).get("canary") or {}).get("analysis"),
        60,
        "v2 at its step, one analysis check made",
        seen=lambda: serving.status("inferenceservices", NAME),
    )

    def matching() -> tuple[dict[str, Any], Series] | None:
        pair = at_once(serving, operator, namespace)
        if pair is None:
            return None
        status, series = pair
        canary = status["canary"]
        version = (("version", "v2"),)
        checks = {dict(k)["result"]: v for k, v in named(series, "canary_checks").items()}
        wanted = {
            "weight": named(series, "canary_weight") == {version: canary["weight"]},
            "phase": named(series, "canary_phase") == {(("phase", canary["phase"]), *version): 1},
            "checks": checks == {
                "Pass": canary["passedChecks"], "Fail": canary["failedChecks"],
                "Inconclusive": canary["inconclusiveChecks"], "Error": canary["errorChecks"],
            },
            "result": named(series, "canary_analysis_result")
            == {(("result", canary["analysis"]["result"]), *version): 1},
            "service phase": named(series, "inferenceservice_phase") == {(("phase", status["phase"]),): 1},
        }  # fmt: skip
        return (status, series) if all(wanted.values()) else None

    status, series = wait_for(
        matching, 30, "the gauges to equal the status", seen=lambda: at_once(serving, operator, namespace)
    )
    assert status["canary"]["weight"] == 25, status
    assert named(series, "inferenceservice_desired_replicas") == {(): 4}
    # What the operator wrote into each Deployment, as the API server holds it.
    written = {dict(k)["version"]: v for k, v in named(series, "inferenceservice_version_replicas").items()}
    assert written == {"v1": replicas(serving, NAME, "v1"), "v2": replicas(serving, NAME, "v2")} == {
        "v1": 3, "v2": 1,
    }  # fmt: skip
    assert named(series, "canary_analysis_value", metric="requests"), series  # the check's request count

    annotate(serving, NAME, {"lepton.ai/promote": "v2"})
    wait_for(
        lambda: (
            not named(s := gauges(operator, namespace), "canary_weight")
            and set(dict(k)["version"] for k in named(s, "inferenceservice_version_replicas")) == {"v2"}
        ),
        60,
        "promoted: no canary series, v1's replicas series gone",
        seen=lambda: (gauges(operator, namespace), serving.status("inferenceservices", NAME)),
    )
    assert serving.status("inferenceservices", NAME).get("canary") is None

    serving.delete("inferenceservices", NAME)
    wait_for(
        lambda: not gauges(operator, namespace), 30, "no series of the deleted service",
        seen=lambda: gauges(operator, namespace),
    )  # fmt: skip
