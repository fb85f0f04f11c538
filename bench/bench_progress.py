"""Progress staleness (issue #16): how old a running TrainingJob's status.progress is when a user
looks, with the operator's default poll period (LEPTON_PROGRESS_POLL_SECONDS, 10 s) unless told.

--jobs TrainingJobs run on the local cluster (KWOK pods). Each has a real rank-0 endpoint standing in
for its worker 0 (the runtime's own MetricsReporter on loopback, its step advanced every --tick
seconds by a thread); worker 0's pod IP is reported as 127.0.0.1, as a kubelet reports a real one,
so the operator scrapes it as it scrapes a pod. The status is sampled at random moments for
--seconds. Two ages per sample:

- lastUpdate age: sample time - status.progress.lastUpdate (what `kubectl get` shows; the field
  has whole seconds, as metav1.Time does, so this reads up to 1 s older than the read was);
- step lag: (steps rank 0 has reported - status.progress.step) x tick, the age of the value itself.

    python bench/bench_progress.py [--jobs 5] [--seconds 120] [--poll 10] [--tick 0.25]

Needs the local cluster running (make cluster, with this session's LEPTON_* ports) and the CRDs of
this tree; the operator is started here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATHS = [
    str(p)
    for p in (REPO / "e2e", REPO / "operator", REPO / "tests", REPO / "tests" / "integration" / "trainingjob")
]
sys.path[:0] = PATHS
os.environ["PYTHONPATH"] = os.pathsep.join([*PATHS, *filter(None, [os.environ.get("PYTHONPATH")])])

from kubernetes import config  # noqa: E402
from tjkit import Jobs, manifest  # noqa: E402

from lepton.runtime.metrics import MetricsReporter  # noqa: E402
from localcluster.config import Config  # noqa: E402
from support.kube import fresh_namespace  # noqa: E402
from support.operator import running_operator  # noqa: E402
from support.ports import free_port  # noqa: E402
from support.wait import wait_for  # noqa: E402


class Rank0:
    """A rank 0 that reports one more step every ``tick`` seconds."""

    def __init__(self, tick: float) -> None:
        self.port = free_port()
        self.reporter = MetricsReporter(self.port, "127.0.0.1")
        self.step = 0
        self._tick, self._stop = tick, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self.step += 1
            self.reporter.report({"step": self.step, "loss": 1.0 / self.step})

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.reporter.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--poll", type=float, default=10.0, help="LEPTON_PROGRESS_POLL_SECONDS")
    parser.add_argument("--tick", type=float, default=0.25, help="seconds between rank 0's reports")
    args = parser.parse_args()

    cfg = Config.from_env()
    kubeconfig = str(cfg.kubeconfig)
    api = config.new_client_from_config(config_file=kubeconfig)
    log = Path(tempfile.mkdtemp(prefix="bench-progress-")) / "operator.log"
    env = {"LEPTON_PROGRESS_POLL_SECONDS": str(args.poll)}
    ranks = [Rank0(args.tick) for _ in range(args.jobs)]
    try:
        with running_operator(kubeconfig, log, env), fresh_namespace(api, "bench-progress", "b") as ns:
            jobs = Jobs(api, ns)
            names = [f"p{i}" for i in range(args.jobs)]
            for name, rank in zip(names, ranks, strict=True):
                port_env = [{"name": "LEPTON_METRICS_PORT", "value": str(rank.port)}]
                jobs.create(manifest(name, replicas=1, gpus=1, env=port_env))
            for name in names:
                wait_for(lambda n=name: jobs.phase(n) == "Running", 60, f"{name} Running")
                jobs.core.patch_namespaced_pod_status(
                    f"{name}-worker-0",
                    ns,
                    {"status": {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}},
                    _content_type="application/merge-patch+json",
                )
            for name in names:
                wait_for(lambda n=name: jobs.status(n).get("progress"), 60 + args.poll, f"{name} progress")
            ages: list[float] = []
            lags: list[float] = []
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                # A random moment, so samples do not lock onto the poll period.
                time.sleep(random.uniform(0.1, 0.9))
                i = random.randrange(args.jobs)
                reported = ranks[i].step
                progress = jobs.status(names[i])["progress"]
                now = time.time()
                updated = dt.datetime.strptime(progress["lastUpdate"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=dt.UTC
                )
                ages.append(now - updated.timestamp())
                lags.append((reported - progress["step"]) * args.tick)
    finally:
        for rank in ranks:
            rank.close()
        api.close()

    print(f"{args.jobs} jobs, poll {args.poll:g} s, {len(ages)} samples over {args.seconds:g} s")
    for label, values in (("lastUpdate age", ages), ("step lag", lags)):
        print(
            f"  {label:15} p50 {statistics.median(values):5.2f} s  p95 {percentile(values, 0.95):5.2f} s"
            f"  max {max(values):5.2f} s"
        )


if __name__ == "__main__":
    main()
