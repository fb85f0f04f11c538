"""`lepton predict` against a real `lepton-serve` (KWOK pods have no network, so the server runs on
loopback and is reached with --url), and the Python client's documented examples run as written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from clikit import job
from kubernetes import client

from lepton.artifacts import MLPClassifier, save_artifact
from support.servers import Server, kill, launch

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[3] / "docs" / "client.md"


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MLPClassifier, Server]]:
    root = tmp_path_factory.mktemp("iris")
    torch.manual_seed(0)
    model = MLPClassifier(16, 32, 4)
    save_artifact(model, root / "model", example_input=torch.randn(2, 16))
    server = launch(root / "model", root, name="iris")
    yield model.eval(), server
    kill(server)


def create_service(kube: client.ApiClient, namespace: str) -> None:
    body = {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": "iris"},
        "spec": {"model": {"name": "iris", "version": "v1"}},
    }
    client.CustomObjectsApi(kube).create_namespaced_custom_object(
        "lepton.ai", "v1alpha1", namespace, "inferenceservices", body
    )


def expected(model: MLPClassifier, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float32))).numpy()


def test_predict_answers_match_the_model_for_csv_npy_and_json(lepton, kube, namespace, iris, tmp_path):
    model, server = iris
    create_service(kube, namespace)
    x = np.random.default_rng(1).normal(size=(3, 16)).astype(np.float32)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header=",".join(f"f{i}" for i in range(16)), comments="")
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.json").write_text(json.dumps(x.tolist()))
    for name in ("x.csv", "x.npy", "x.json"):
        done = lepton("predict", "lisvc/iris", "-i", name, "--url", server.url, "-o", "json")
        assert done.returncode == 0, done.stderr
        [(output, values)] = json.loads(done.stdout).items()
        np.testing.assert_allclose(np.array(values), expected(model, x), rtol=1e-4, atol=1e-5, err_msg=name)
    table = lepton("predict", "lisvc/iris", "--url", server.url, stdin=json.dumps(x[:1].tolist()))
    assert table.returncode == 0, table.stderr
    assert f"{output} float32 [1, 4]" in table.stdout


def test_predict_errors_say_what_to_do(lepton, kube, namespace, iris):
    _, server = iris
    create_service(kube, namespace)
    proxied = lepton("predict", "lisvc/iris", "--token", "t", stdin="[[1]]")
    assert proxied.returncode == 2
    assert "pass --url" in proxied.stderr
    wrong_shape = lepton("predict", "lisvc/iris", "--url", server.url, stdin="[[1, 2]]")
    assert wrong_shape.returncode == 1
    assert "the model refused the request (400)" in wrong_shape.stderr
    assert "shape" in wrong_shape.stderr


def test_documented_examples_run(
    kube, namespace, operator, iris, namespaced_kubeconfig, tmp_path, monkeypatch, capsys
):
    _, server = iris
    create_service(kube, namespace)
    manifest = job("docs", 0, output={"model": "m", "version": "docs"})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(manifest))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(namespaced_kubeconfig))
    monkeypatch.setenv("LEPTON_URL", server.url)
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert len(blocks) == 3
    scope: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), scope)
    out = capsys.readouterr().out
    assert "phase Succeeded" in out
    assert "Succeeded {'loss': 0.25}" in out
    assert "m-docs file:///models/m/v1" in out
    assert "\n2\n" in out  # the typed draft's replicas
    assert re.search(r"\{'\w+': \(2, 4\)\}", out), out
