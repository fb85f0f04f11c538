"""Canary rollout timings (issue #13) on the local cluster, with a real Prometheus (1 s scrape) and
real `lepton-serve` processes standing in for each version's replicas (KWOK pods run no process):

  (a) a bad version (every request answered 500) under 10 requests/s: seconds from its first
      failing request to status.canary weight 0 (RolledBack), against what Argo Rollouts' and
      Flagger's rules give for the same settings (computed, not run here: neither is installed);
  (b) a good version under the same load: seconds from its ModelVersion being created to the
      service serving it (status.currentVersion), against the sum of its steps' pauses.

Settings: steps 25 % and 50 % with --pause seconds each, analysis every --interval seconds (the
API's minimum is 5), failureLimit --failure-limit, minRequests 5, 4 replicas, no Gateway API (the
replica-ratio split). Each run is a fresh namespace on the running local cluster (the one
LEPTON_CLUSTER_DIR and the LEPTON_PORT_* variables name; started with Prometheus when it is not).

    python bench/bench_rollout.py [--runs 3] [--interval 5] [--failure-limit 2] [--pause 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATHS = [
    str(p)
    for p in (REPO / "e2e", REPO / "operator", REPO / "tests", REPO / "tests" / "integration" / "serving")
]
sys.path[:0] = PATHS
# The operator and lepton-serve run as subprocesses: they must import this tree's lepton.
os.environ["PYTHONPATH"] = os.pathsep.join([*PATHS, *filter(None, [os.environ.get("PYTHONPATH")])])

from kubernetes import client, config  # noqa: E402
from rolloutkit import Servers, canary, load, rollout_operator  # noqa: E402
from servekit import Serving, inference_service, model_version  # noqa: E402

from support.cluster import ensure_cluster  # noqa: E402
from support.kube import fresh_namespace, kubectl_runner  # noqa: E402
from support.paths import CRDS_DIR  # noqa: E402
from support.prometheus import Prometheus  # noqa: E402
from support.wait import wait_for  # noqa: E402

NAME = "iris"


def service(args: argparse.Namespace) -> dict[str, object]:
    steps = [{"weight": 25, "pauseSeconds": args.pause}, {"weight": 50, "pauseSeconds": args.pause}]
    analysis = {
        "intervalSeconds": args.interval,
        "failureLimit": args.failure_limit,
        "minRequests": 5,
        "maxErrorRate": 0.05,
    }
    return inference_service(NAME, "iris", replicas=4, rollout={"steps": steps, "analysis": analysis})


def one_run(
    api: client.ApiClient, prometheus: Prometheus, root: Path, args: argparse.Namespace, good: bool
) -> float:
    with fresh_namespace(api, f"bench-rollout-{'good' if good else 'bad'}", "b") as namespace:
        serving = Serving(api, namespace)
        versions = Servers(root, prometheus, namespace, NAME)
        try:
            versions.start(("v1", True), ("v2", good))
            serving.ready_version("iris", "v1")
            serving.create(service(args))
            wait_for(
                lambda: serving.status("inferenceservices", NAME).get("readyReplicas") == 4, 60, "v1 ready"
            )
            with load(versions.url("v2")) as sent:
                created = time.time()
                serving.create(model_version("iris", "v2"))
                if good:
                    wait_for(
                        lambda: serving.status("inferenceservices", NAME).get("currentVersion") == "v2",
                        10 * args.pause + 120,
                        "v2 promoted",
                        interval=0.1,
                    )
                    return time.time() - created
                wait_for(
                    lambda: (
                        (c := canary(serving, NAME)).get("phase") == "RolledBack" and c.get("weight") == 0
                    ),
                    30 * args.interval + 120,
                    "v2 rolled back",
                    interval=0.1,
                )
                return time.time() - sent.first[500]
        finally:
            versions.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--failure-limit", type=int, default=2)
    parser.add_argument("--pause", type=int, default=10)
    args = parser.parse_args()

    cluster = ensure_cluster()
    kubectl_runner(cluster.kubectl_path, cluster.kubeconfig)("apply", "--server-side", "-f", str(CRDS_DIR))
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as tmp:
        root = Path(tmp)
        prometheus = Prometheus(root / "prometheus")
        prometheus.start()
        try:
            with rollout_operator(cluster.kubeconfig, prometheus, root / "operator.log"):
                bad = [one_run(api, prometheus, root, args, good=False) for _ in range(args.runs)]
                good = [one_run(api, prometheus, root, args, good=True) for _ in range(args.runs)]
        finally:
            prometheus.stop()
    pauses = 2 * args.pause
    result = {
        "settings": vars(args),
        "bad_first_failure_to_weight_0_s": [round(x, 2) for x in bad],
        "bad_median_s": round(statistics.median(bad), 2),
        "argo_rollouts_same_settings_s": {
            "failureLimit x interval": args.failure_limit * args.interval,
            "note": "Argo fails an AnalysisRun when failed measurements EXCEED failureLimit: "
            f"{args.failure_limit + 1} measurements, {(args.failure_limit + 1) * args.interval} s",
        },
        "flagger_same_settings_s": {"threshold x interval": args.failure_limit * args.interval},
        "good_created_to_promoted_s": [round(x, 2) for x in good],
        "good_median_s": round(statistics.median(good), 2),
        "sum_of_pauses_s": pauses,
        "overhead_median_s": round(statistics.median(good) - pauses, 2),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
