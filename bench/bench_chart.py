"""The chart's figures: objects it renders, and `helm install --wait` to the operator Ready on the
local cluster's real node, against the same install of a plain Deployment of the same image (the
anchor: what any chart with one pod costs here).

Needs the cluster with a real node and the images in it (`make test-e2e` or `make demo` leaves
both):

    PYTHONPATH=e2e:operator .venv/bin/python bench/bench_chart.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from localcluster import cluster
from localcluster.config import Config

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "lepton"
REAL_NODE = {
    "nodeSelector": {"lepton.ai/node-kind": "real"},
    "tolerations": [{"key": "lepton.ai/real-node", "operator": "Exists", "effect": "NoSchedule"}],
}
NAMESPACE = "lepton-bench-chart"


def helm(cfg: Config) -> list[str]:
    out = subprocess.run(
        [str(REPO / "e2e" / "realnode" / "build-helm.sh")], capture_output=True, text=True, check=True
    )
    return [out.stdout.strip().splitlines()[-1], "--kubeconfig", str(cfg.kubeconfig)]


def rendered(helm_cmd: list[str], values: dict[str, object]) -> Counter[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(values, f)
        f.flush()
        out = subprocess.run(
            [*helm_cmd, "template", "bench", str(CHART), "-n", NAMESPACE, "--include-crds", "-f", f.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return Counter(doc["kind"] for doc in yaml.safe_load_all(out) if doc)


def timed_install(helm_cmd: list[str], release: str, chart: Path, values: dict[str, object]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(values, f)
        f.flush()
        start = time.monotonic()
        subprocess.run(
            [*helm_cmd, "install", release, str(chart), "-n", NAMESPACE, "--create-namespace", "-f", f.name,
             "--wait", "--timeout", "5m"],
            capture_output=True, text=True, check=True, timeout=400,
        )  # fmt: skip
        took = time.monotonic() - start
    subprocess.run([*helm_cmd, "uninstall", release, "-n", NAMESPACE, "--wait"], check=True, timeout=300)
    return took


def anchor_chart(workdir: Path) -> Path:
    """A minimal chart: one Deployment of the operator image that is Ready once its process runs."""
    chart = workdir / "plain"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "plain", "version": "0.1.0"})
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "plain"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "plain"}},
            "template": {
                "metadata": {"labels": {"app": "plain"}},
                "spec": {
                    **REAL_NODE,
                    "containers": [
                        {
                            "name": "main",
                            "image": "docker.io/lepton/operator:dev",
                            "imagePullPolicy": "Never",
                            "command": ["python", "-c", "import time; time.sleep(3600)"],
                        }
                    ],
                },
            },
        },
    }
    (chart / "templates" / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    return chart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cfg = Config.from_env()
    if not cluster.running(cfg).get("kube-apiserver"):
        raise SystemExit("the local cluster is not running: `make test-e2e` or `make demo` first")
    helm_cmd = helm(cfg)
    for name, values in (
        ("defaults", {}),
        ("replicas 2 + peering + ServiceMonitor + PrometheusRule", {
            "replicas": 2, "peering": {"enabled": True},
            "serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
        }),
    ):  # fmt: skip
        kinds = rendered(helm_cmd, values)
        print(f"rendered ({name}): {sum(kinds.values())} objects: {dict(sorted(kinds.items()))}")
    lepton_values = {"image": {"pullPolicy": "Never"}, **REAL_NODE}
    with tempfile.TemporaryDirectory() as tmp:
        plain = anchor_chart(Path(tmp))
        lepton_s, plain_s = [], []
        for _ in range(args.runs):  # interleaved: the machine's load hits both alike
            lepton_s.append(timed_install(helm_cmd, "bench-lepton", CHART, lepton_values))
            plain_s.append(timed_install(helm_cmd, "bench-plain", plain, {}))
    lm, pm = statistics.median(lepton_s), statistics.median(plain_s)
    for name, runs, median in (("lepton chart", lepton_s, lm), ("one plain Deployment", plain_s, pm)):
        print(f"helm install --wait -> Ready, {name}: {[round(s, 1) for s in runs]} s, median {median:.1f}")
    print(f"ratio lepton / plain: {lm / pm:.2f}")


if __name__ == "__main__":
    main()
