"""Every panel of the shipped Grafana dashboards (charts/lepton/dashboards/*.json) against a real
Prometheus scraping real metric sources: the operator under test (with a TrainingJob it admits and
an InferenceService paused in a canary rollout whose analysis asks that Prometheus), a real
`lepton-serve` under load (labelled as the pod scrape job labels a service's pods), and the
training runtime's real rank-0 endpoint (lepton.runtime.metrics, labelled as pod <job>-worker-0).

Each expression must parse (Prometheus answers the query) and, unless NO_DATA names its panel,
return at least one finite sample. NO_DATA lists the panels whose sources cannot exist here, and
the test fails when an entry names no panel, so the list cannot go stale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rolloutkit import rollout_operator
from servekit import INPUT, Serving, inference_service, model_version

from lepton.runtime.metrics import MetricsReporter
from support.operator import Operator
from support.paths import REPO
from support.ports import free_port
from support.prometheus import Prometheus
from support.servers import Load
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASHBOARDS = REPO / "charts" / "lepton" / "dashboards"
SERVICE, JOB = "dash", "dash-train"
# (dashboard uid, panel title) -> why it has no data on the local cluster.
NO_DATA = {
    ("lepton-training", "GPU utilisation per job"): "DCGM exporter: no GPUs here",
    ("lepton-training", "GPU utilisation per worker"): "DCGM exporter: no GPUs here",
    ("lepton-serving", "Held requests"): "no activator runs here (tests/activator covers its metrics)",
    ("lepton-serving", "Cold start p95"): "no activator runs here (tests/activator covers its metrics)",
    ("lepton-operator", "Job restarts"): "a series per reason appears with the first restart; none here",
}


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    """The operator with the module's Prometheus as its default: the canary's analysis asks it."""
    with rollout_operator(kubeconfig, prometheus, tmp_path_factory.mktemp("operator") / "op.log") as op:
        yield op


def panels() -> Iterator[tuple[str, str, str]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield board["uid"], panel["title"], target["expr"]


def concrete(expr: str, namespace: str) -> str:
    """The expression as Grafana sends it: variables replaced. The rate window is one Grafana picks
    for a one-hour view; a test-sized one would let the job's single admission fall out of it while
    the panels before it are checked."""
    for variable, value in (("$namespace", namespace), ("$__rate_interval", "5m"), ("$__range", "5m")):
        expr = expr.replace(variable, value)
    return expr


def training_job(namespace: str) -> dict[str, Any]:
    container = {"name": "trainer", "image": "lepton/trainer:dev", "command": ["lepton-train"]}
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": JOB, "namespace": namespace},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [container]}}},
    }


def canary_paused(serving: Serving) -> dict[str, Any]:
    """The InferenceService SERVICE serving v1, rolling v2 out and paused at 50 % until promoted, once
    an analysis check has run (minRequests 0: the thresholds are judged, with no data from v2)."""
    serving.ready_version("iris", "v1")
    analysis = {"intervalSeconds": 5, "minRequests": 0}
    rollout = {"steps": [{"weight": 50, "untilPromoted": True}], "analysis": analysis}
    serving.create(inference_service(SERVICE, "iris", replicas=2, rollout=rollout))
    serving.wait_phase("inferenceservices", SERVICE, "Ready", 60)
    serving.create(model_version("iris", "v2"))
    return wait_for(
        lambda: (c := serving.status("inferenceservices", SERVICE).get("canary") or {}).get("analysis") and c,
        90,
        "v2's rollout at its step with one analysis check",
        seen=lambda: serving.status("inferenceservices", SERVICE),
    )


def test_every_panel_parses_and_has_data_where_its_source_runs(
    kube, kubectl, namespace, operator, prometheus, model_server
):
    found = list(panels())
    titles = {(uid, title) for uid, title, _ in found}
    assert set(NO_DATA) <= titles, f"NO_DATA names panels that do not exist: {set(NO_DATA) - titles}"

    reporter = MetricsReporter(port=free_port(), addr="127.0.0.1")
    assert reporter.port is not None
    try:
        reporter.report({"step": 120, "epoch": 3, "loss": 0.25, "samples_per_second": 950.0})
        prometheus.add_target("operator", f"127.0.0.1:{operator.metrics_port}", {"job": "lepton-operator"})
        host = model_server.url.removeprefix("http://")
        prometheus.add_target(
            "server", host, {"namespace": namespace, "service": SERVICE, "pod": f"{SERVICE}-v1-0"}
        )
        prometheus.add_target(
            "rank0", f"127.0.0.1:{reporter.port}", {"namespace": namespace, "pod": f"{JOB}-worker-0"}
        )
        # Rates count increases after a series' first scrape: the job is admitted only once Prometheus
        # has scraped the operator, or the admission would be in its first sample and rate to nothing.
        wait_for(
            lambda: prometheus.query('up{job="lepton-operator"} == 1'), 60, "the operator's first scrape"
        )
        kubectl("apply", "-f", "-", input=yaml.safe_dump(training_job(namespace)))
        canary = canary_paused(Serving(kube, namespace))
        assert (canary["version"], canary["weight"]) == ("v2", 50), canary

        with Load(model_server.url, INPUT, per_second=5):
            for uid, title, expr in found:
                query = concrete(expr, namespace)
                if (uid, title) in NO_DATA:
                    prometheus.query(query)  # must parse: Prometheus answers 400 otherwise
                    continue

                def finite(query: str = query) -> bool:
                    return any(math.isfinite(float(s["value"][1])) for s in prometheus.query(query))

                wait_for(
                    finite, 90, f"panel {uid} / {title!r} to show data: {query}",
                    seen=lambda query=query: str(prometheus.query(query)),
                )  # fmt: skip
    finally:
        reporter.close()
