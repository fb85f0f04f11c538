"""Operator memory with many queued TrainingJobs: N jobs of 4 x 8 GPUs applied at once to a cluster
that fits only a few of them, then the operator's peak RSS (VmHWM) once every job has a status
(the admitted ones Running, the others Queued), and its CPU seconds to get there.

Uses the cluster of KUBECONFIG (say, `make cluster`'s); starts the operator from PYTHONPATH.

    python bench/bench_queued_rss.py [--jobs 1000] [--namespace bench-queued]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_trainingjob import GROUP, VERSION, job_body
from benchkit import Operator, make_namespace


def rss_mib(operator: Operator) -> float:
    return operator.proc_status().get("VmRSS", 0) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--namespace", default="bench-queued")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    kubeconfig = os.environ["KUBECONFIG"]
    api = config.new_client_from_config(config_file=kubeconfig)
    api.configuration.connection_pool_maxsize = 16
    custom = client.CustomObjectsApi(api)
    log = Path(f"/tmp/bench-queued-{os.getpid()}.log")
    operator = Operator(Path(kubeconfig), log)
    try:
        operator.wait_idle()
        idle_rss = rss_mib(operator)
        make_namespace(api, args.namespace)
        cpu_before, began = operator.cpu_s(), time.monotonic()

        def apply(i: int) -> None:
            body = job_body(f"q-{i:04d}", replicas=4, gpus=8, annotations={}, selector={})
            custom.create_namespaced_custom_object(GROUP, VERSION, args.namespace, "trainingjobs", body)

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(apply, range(args.jobs)))
        phases: collections.Counter[str] = collections.Counter()
        while time.monotonic() - began < args.timeout:
            listed = custom.list_namespaced_custom_object(GROUP, VERSION, args.namespace, "trainingjobs")
            items = listed["items"]
            phases = collections.Counter((j.get("status") or {}).get("phase") or "none" for j in items)
            if phases["none"] == 0 and len(items) == args.jobs:
                break
            time.sleep(2)
        settled_s = time.monotonic() - began
        operator.wait_idle(timeout=120)
        print(
            json.dumps(
                {
                    "jobs": args.jobs,
                    "phases": dict(phases),
                    "all_with_status_s": round(settled_s, 1),
                    "operator_cpu_s": round(operator.cpu_s() - cpu_before, 1),
                    "rss_idle_before_mib": round(idle_rss, 1),
                    "rss_now_mib": round(rss_mib(operator), 1),
                    "peak_rss_mib": round(operator.peak_rss_mib(), 1),
                },
                indent=2,
            ),
            flush=True,
        )
    finally:
        operator.stop()
        client.CoreV1Api(api).delete_namespace(args.namespace)


if __name__ == "__main__":
    main()
