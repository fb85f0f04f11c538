"""`lepton` against the local cluster: get/describe on real objects, scale, rollout annotations, and
`train --follow` on TrainingJobs the operator runs (KWOK pods end with the exit code they are told)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from clikit import GROUP, VERSION, job
from kubernetes import client

from support.wait import wait_for

pytestmark = pytest.mark.integration


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"model": {"name": "m", "version": "v1"}, "replicas": 1, **spec},
    }


def create(kube: client.ApiClient, namespace: str, plural: str, body: dict[str, Any]) -> None:
    client.CustomObjectsApi(kube).create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)


def read(kube: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    return dict(
        client.CustomObjectsApi(kube).get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    )


def test_train_follow_sees_every_phase_and_the_model_version(lepton, tmp_path, operator, kube, namespace):
    manifest = job("ok", 0, output={"model": "m", "version": "v1"})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(manifest))
    done = lepton("train", "-f", "job.yaml", "--follow", "--timeout", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    seen = ("created in", "phase Admitted", "pods: 2 Running", "phase Succeeded")
    assert all(s in out for s in seen), out
    # Phases come in the order the status went through; the pods' own watch may report them Running
    # before the Admitted status write arrives (both within a second on fake nodes), not after success.
    phases = [out.index(s) for s in ("created in", "phase Admitted", "phase Succeeded")]
    assert phases == sorted(phases), out
    assert out.index("pods: 2 Running") < out.index("phase Succeeded"), out
    assert "metrics: loss 0.25" in out
    assert "model version m-v1" in out
    assert "succeeded in" in out
    assert "; model version m-v1" in out
    assert read(kube, namespace, "trainingjobs", "ok")["status"]["modelVersion"] == "m-v1"

    described = lepton("describe", "tj/ok")
    assert described.returncode == 0, described.stderr
    assert "Succeeded" in described.stdout
    assert "rank 0 exited 0: the job is done" in described.stdout
    assert "ModelVersionCreated" in described.stdout  # the events section

    listed = lepton("get", "mv", "-o", "name")
    assert listed.stdout.split() == ["modelversion/m-v1"]


def test_train_follow_exits_non_zero_with_the_reason(lepton, tmp_path, operator):
    manifest = job("bad", 3, runPolicy={"restartPolicy": "Never"})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(manifest))
    done = lepton("train", "-f", "job.yaml", "--follow", "--timeout", "90")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "phase Running" in done.stdout
    assert "error: tj/bad Failed: WorkerFailed" in done.stderr
    assert "lepton logs tj/bad" in done.stderr


def test_train_refuses_an_invalid_manifest_before_the_cluster_sees_it(lepton, tmp_path):
    manifest = job("typo", 0)
    manifest["spec"]["replicas"] = 0
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(manifest))
    done = lepton("train", "-f", "job.yaml")
    assert done.returncode == 2
    assert "is not a valid TrainingJob: spec.replicas" in done.stderr


def test_get_and_describe_real_objects(lepton, kube, namespace, operator):
    create(kube, namespace, "inferenceservices", service("web"))
    status = wait_for(
        lambda: read(kube, namespace, "inferenceservices", "web").get("status", {}).get("phase") == "Pending",
        timeout=30,
        what="lisvc/web Pending (no ModelVersion m v1)",
    )
    assert status
    table = lepton("get")
    assert table.returncode == 0, table.stderr
    assert "InferenceServices (lisvc)" in table.stdout
    [row] = [line for line in table.stdout.splitlines() if line.startswith("web ")]
    assert row.split()[:3] == ["web", "m", "Pending"]
    as_json = lepton.json("get", "isvc", "web")
    assert as_json["metadata"]["name"] == "web"
    described = lepton("describe", "lisvc/web")
    assert described.returncode == 0, described.stderr
    assert "ModelVersionNotFound" in described.stdout
    assert "no ModelVersion matches spec.model" in described.stdout


def test_errors_say_what_to_do(lepton, kube, namespace):
    missing = lepton("describe", "tj/nope")
    assert missing.returncode == 1
    assert f"tj/nope in {namespace}: not found" in missing.stderr
    assert "-> check the name" in missing.stderr
    usage = lepton("get", "pods")
    assert (usage.returncode, usage.stderr.strip().splitlines()[-1]) == (
        2,
        "  -> use one of tj, mv, lisvc (or their plural names)",
    )
    no_cluster = lepton("--kubeconfig", "/nonexistent/kubeconfig", "get")
    assert no_cluster.returncode == 3
    assert "set KUBECONFIG or pass --kubeconfig" in no_cluster.stderr


def test_scale_writes_replicas_and_refuses_when_autoscaled(lepton, kube, namespace):
    create(kube, namespace, "inferenceservices", service("web"))
    done = lepton("scale", "lisvc/web", "3")
    assert done.returncode == 0, done.stderr
    assert read(kube, namespace, "inferenceservices", "web")["spec"]["replicas"] == 3

    auto = {"minReplicas": 1, "maxReplicas": 4, "metric": "rps", "target": 10}
    create(kube, namespace, "inferenceservices", service("auto", autoscaling=auto))
    refused = lepton("scale", "lisvc/auto", "3")
    assert refused.returncode == 1
    assert "the autoscaler owns its replicas" in refused.stderr
    assert "1..4" in refused.stderr
    assert read(kube, namespace, "inferenceservices", "auto")["spec"].get("replicas", 1) == 1


def test_rollout_actions_annotate_the_version(lepton, kube, namespace):
    create(kube, namespace, "inferenceservices", service("web"))
    for action in ("promote", "abort", "retry"):
        done = lepton("rollout", action, "web", "--version", "v2")
        assert done.returncode == 0, done.stderr
    annotations = read(kube, namespace, "inferenceservices", "web")["metadata"]["annotations"]
    actions = ("lepton.ai/promote", "lepton.ai/abort", "lepton.ai/retry")
    assert {k: v for k, v in annotations.items() if k in actions} == {
        "lepton.ai/promote": "v2",
        "lepton.ai/abort": "v2",
        "lepton.ai/retry": "v2",
    }
    status = lepton("rollout", "status", "web")
    assert "no rollout in progress" in status.stdout
    assert "requested: lepton.ai/promote=v2" in status.stdout
    nothing = lepton("rollout", "promote", "web")
    assert nothing.returncode == 2
    assert "--version V" in nothing.stderr
