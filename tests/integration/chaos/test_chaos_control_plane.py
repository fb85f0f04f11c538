"""Chaos on the simulated cluster: the operator SIGKILLed, the API server and etcd restarted, and
Prometheus stopped for a minute, each at a random moment, under a mixed load: TrainingJobs that
finish (each recording a ModelVersion) and one that runs throughout, an InferenceService rolling a
new version out as a canary every round (some versions good, some failing every request), and an
autoscaled InferenceService under steady load.

After each fault the round must settle (the good version promoted, the bad one rolled back, the
autoscaler at its target again); after all of them, what the API shows must hold: every job
converged, exactly its replicas' pods in one generation, no restart charged, one ModelVersion per
finished job, no child whose owner is gone, no failed request to a version that was not being rolled
back, replicas never lowered under steady load. The seed is printed (LEPTON_CHAOS_SEED reruns it);
LEPTON_CHAOS_ROUNDS=n runs n cycles of the four faults instead of CI's one.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any

import pytest
from chaoskit import PROMETHEUS, Faults, Plan, Sampler, Targets, model_versions

from integration.serving.servekit import Serving, inference_service, model_version
from integration.trainingjob.tjkit import Jobs, manifest
from support.kube import orphans
from support.models import INPUT
from support.servers import Load
from support.wait import wait_for

# A cycle of the four faults takes about 4 minutes here (Prometheus is down for one of them); the
# start (three model servers importing torch) up to 3 more on a loaded machine.
ROUNDS = int(os.environ.get("LEPTON_CHAOS_ROUNDS") or 1)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.chaos,
    pytest.mark.slow,
    pytest.mark.timeout(300 + 420 * ROUNDS),
]

CANARY, AUTO, TRAINED = "iris", "auto", "chaos"
DIGEST = "sha256:" + "cd" * 32
MAX_REPLICAS = 4
RPS = 'sum(rate(lepton_serving_requests_total{namespace="{{namespace}}",service="{{service}}"}[10s]))'


def canary_service() -> dict[str, Any]:
    analysis = {"intervalSeconds": 5, "minRequests": 5, "failureLimit": 2, "maxErrorRate": 0.05}
    steps = [{"weight": 25, "pauseSeconds": 5}, {"weight": 50, "pauseSeconds": 5}]
    rollout = {"strategy": "Canary", "steps": steps, "analysis": analysis}
    return inference_service(CANARY, "iris", replicas=4, rollout=rollout)


def autoscaled_service(prometheus_down_s: int) -> dict[str, Any]:
    autoscaling = {
        "minReplicas": 1,
        "maxReplicas": MAX_REPLICAS,
        "metric": "custom",
        "query": RPS,
        "target": 2,
        "pollSeconds": 1,
        "failureThreshold": 2,
        # HPA's semantics: the highest recommendation of the window wins. For the first range (10 s)
        # after Prometheus is back, rate() reads low (the window is only partly filled), so the window
        # must reach back past the outage to a recommendation made before it; HPA's default is 300 s.
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": prometheus_down_s + 30}},
    }
    return inference_service(AUTO, "auto", replicas=1, autoscaling=autoscaling)


# How long a finishing job's workers run. Real rank 0 cannot finish before every worker has joined
# its rendezvous; a simulated one finishes on its clock alone. If it finishes while a fault still
# delays a worker's create (etcd down up to 5 s, the API server restarting, then the operator's 5 s
# retry), the job rightly succeeds on rank 0 and the worker is never created, which "each job
# exactly its workers" below cannot tell from a worker lost. So the workers outlast any such delay.
FINISH_AFTER_S = (30.0, 40.0)


def finishing_job(name: str, after: float) -> dict[str, Any]:
    """Two workers that succeed after ``after`` seconds; rank 0 reports an artifact, which the
    operator records as ModelVersion chaos-<name>."""
    message = {
        "metrics": {"loss": 0.25},
        "artifact": {"uri": f"pvc://models/chaos/{name}", "digest": DIGEST, "format": "torch-export"},
    }
    hooks = {
        "sim.lepton.ai/exit-code": "0",
        "sim.lepton.ai/exit-after": f"{after:.1f}s",
        "sim.lepton.ai/termination-message": json.dumps(message),
    }
    output = {"model": TRAINED, "version": name}
    # cleanPodPolicy None: a worker whose create a fault delayed (the API server restarting under
    # it, asked again 5 s later) is still running when rank 0, started first, succeeds; the default
    # (Running) would delete it, and "each job exactly its workers" could not tell that from a
    # worker lost. Duplicated generations still show (the restart-attempt labels).
    return manifest(
        name, replicas=2, gpus=2, annotations=hooks, output=output, runPolicy={"cleanPodPolicy": "None"}
    )


def settled(serving: Serving, version: str, bad: bool) -> bool:
    status = serving.status("inferenceservices", CANARY)
    if bad:
        failed = [f["version"] for f in status.get("failedVersions") or []]
        return version in failed and (status.get("canary") or {}).get("weight") == 0
    return status.get("currentVersion") == version and "canary" not in status


def autoscaled_at_target(serving: Serving) -> bool:
    available = serving.condition("inferenceservices", AUTO, "MetricsAvailable").get("status") == "True"
    deployment = serving.apps.read_namespaced_deployment(f"{AUTO}-v1", serving.namespace)
    return available and deployment.spec.replicas == MAX_REPLICAS


def test_chaos_mixed_load_converges_with_nothing_lost(
    kube, kubeconfig, namespace, cluster_config, chaos_operator, model_servers
):
    plan = Plan.from_env()
    print(
        f"\nchaos seed {plan.seed} (LEPTON_CHAOS_SEED={plan.seed} reruns it); faults in order: {plan.kinds}"
    )
    rng = random.Random(plan.seed)
    faults = Faults(cluster_config, chaos_operator, rng)
    jobs, serving = Jobs(kube, namespace), Serving(kube, namespace)
    targets = Targets(cluster_config, namespace)
    good, bad, auto = model_servers["good"], model_servers["bad"], model_servers["auto"]

    # The load before the first fault: a job that runs throughout, a stable v1, an autoscaled service.
    jobs.create(manifest("long", replicas=4, gpus=4))
    targets.set("good", good, service=CANARY, version="v1")
    targets.set("auto", auto, service=AUTO)
    serving.ready_version("iris", "v1")
    serving.ready_version("auto", "v1")
    serving.create(canary_service())
    serving.create(autoscaled_service(plan.prometheus_down_s))
    wait_for(
        lambda: jobs.phase("long") == "Running", 60, "job long Running", seen=lambda: jobs.status("long")
    )
    long_pods = {p.metadata.name: p.metadata.uid for p in jobs.pods("long")}
    finished: list[str] = []
    rollouts: list[tuple[str, bool, str]] = []

    def metrics_unavailable() -> None:
        """While Prometheus is down: the autoscaler says so (and holds, which the sampler checks)."""
        wait_for(
            lambda: serving.condition("inferenceservices", AUTO, "MetricsAvailable").get("status") == "False",
            30,
            "MetricsAvailable=False on the autoscaled service while Prometheus is down",
            seen=lambda: serving.status("inferenceservices", AUTO),
        )

    try:
        with (
            Load(good.url, INPUT, per_second=4) as good_load,
            Load(bad.url, INPUT, per_second=4) as bad_load,
            Load(auto.url, INPUT, per_second=10) as auto_load,
            Sampler(kubeconfig, namespace, f"{AUTO}-v1") as sampler,
        ):
            wait_for(lambda: autoscaled_at_target(serving), 90, "autoscaled to 4 under load")
            for number, kind in enumerate(plan.kinds):
                version, failing = f"v{number + 2}", rng.random() < 0.3
                for i in range(2):
                    name = f"r{number}-{i}"
                    jobs.create(finishing_job(name, rng.uniform(*FINISH_AFTER_S)))
                    finished.append(name)
                targets.set(
                    "bad" if failing else "good", bad if failing else good, service=CANARY, version=version
                )
                serving.create(model_version("iris", version))
                faults.inject(kind, plan, metrics_unavailable)
                chaos_operator.ready()  # alive, whatever the fault was
                wait_for(
                    lambda v=version, f=failing: settled(serving, v, f),
                    180,
                    f"round {number} ({kind}): {version} {'rolled back' if failing else 'promoted'}",
                    seen=lambda: serving.status("inferenceservices", CANARY),
                )
                wait_for(
                    lambda: autoscaled_at_target(serving),
                    90 if kind == PROMETHEUS else 30,
                    f"round {number} ({kind}): the autoscaled service at 4 with metrics again",
                    seen=lambda: serving.status("inferenceservices", AUTO),
                )
                rollouts.append((version, failing, kind))
                print(f"round {number}: {kind}; {version} {'rolled back' if failing else 'promoted'}")
    finally:
        targets.clear()

    # Everything converges.
    for name in finished:
        wait_for(
            lambda n=name: jobs.phase(n) == "Succeeded",
            120,
            f"job {name} Succeeded",
            seen=lambda n=name: jobs.status(n),
        )
    assert jobs.phase("long") == "Running", jobs.status("long")

    # No duplicate pod generations: each job exactly its workers, once, in attempt 0.
    for name, replicas in [("long", 4), *((n, 2) for n in finished)]:
        pods = jobs.pods(name)
        names = [p.metadata.name for p in pods]
        assert names == [f"{name}-worker-{i}" for i in range(replicas)], (name, names, jobs.status(name))
        attempts = {p.metadata.labels.get("lepton.ai/restart-attempt") for p in pods}
        assert attempts == {"0"}, (name, attempts)
    assert {p.metadata.name: p.metadata.uid for p in jobs.pods("long")} == long_pods, "long's pods replaced"

    # No job spends restart budget on the operator's or the control plane's faults.
    for name in ["long", *finished]:
        status = jobs.status(name)
        charged = {k: status.get(k) for k in ("restartCount", "nodeLossRestarts", "restartHistory")}
        assert charged == {"restartCount": 0, "nodeLossRestarts": 0, "restartHistory": None}, (name, charged)

    # No ModelVersion lost or duplicated: exactly one per finished job, recording that job.
    trained = [m for m in model_versions(kube, namespace) if m["spec"]["model"] == TRAINED]
    counts = Counter(m["spec"]["version"] for m in trained)
    assert sorted(counts) == sorted(finished), f"lost: {set(finished) - set(counts)}, extra: {counts}"
    assert max(counts.values()) == 1, counts
    for mv in trained:
        assert mv["spec"]["origin"]["trainingJob"]["name"] == mv["spec"]["version"], mv["spec"]
    for name in finished:
        assert jobs.status(name)["modelVersion"] == f"{TRAINED}-{name}"

    # No orphaned children, and the canary service on the last good version with no other live one.
    assert orphans(kube, namespace) == []
    stable = next((v for v, failing, _ in reversed(rollouts) if not failing), "v1")
    status = serving.status("inferenceservices", CANARY)
    assert status["currentVersion"] == stable, status
    failed = sorted(f["version"] for f in status.get("failedVersions") or [])
    assert failed == sorted(v for v, f, _ in rollouts if f), status
    live = {
        d.metadata.name: d.spec.replicas
        for d in serving.apps.list_namespaced_deployment(namespace).items
        if d.metadata.name.startswith(f"{CANARY}-") and d.spec.replicas
    }
    assert live == {f"{CANARY}-{stable}": 4}, live

    # Requests: none failed on the good versions' or the autoscaled service's servers; the failing
    # versions' requests are what the rollout policy allows (each such version was rolled back).
    assert good_load.failures == 0, good_load.codes
    assert auto_load.failures == 0, auto_load.codes
    lowered = sampler.lowered_after_reaching(MAX_REPLICAS)
    assert lowered == [], f"replicas lowered under steady load: {lowered}; faults: {faults.timeline}"

    survived = {kind: faults.injected[kind] for kind in dict.fromkeys(plan.kinds)}
    print(f"chaos seed {plan.seed}: faults survived with nothing lost: {survived}")
    print(
        f"requests: good {good_load.codes}, autoscaled {auto_load.codes}, "
        f"failing versions (rolled back) {bad_load.codes}"
    )
