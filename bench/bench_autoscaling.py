"""Autoscaling reaction times (issue #12): Lepton's autoscaler against KEDA's Prometheus scaler
driving the local cluster's own HPA controller, on one cluster, one Prometheus, one load.

One real `lepton-serve` process is the metric source. Prometheus scrapes it with the labels the
pod scrape job would give the service's pods (`namespace`, `service`), so both scalers read the
SAME series through the SAME PromQL and threshold (AverageValue, as both default to):

  (a) an InferenceService with spec.autoscaling (metric custom = the query, target T, pollSeconds
      5 by default) reconciled by the Lepton operator (`python -m lepton`);
  (b) a plain Deployment of the same shape scaled by a KEDA v2.21.0 ScaledObject (prometheus
      trigger; KEDA's defaults: pollingInterval 30 s, the controller manager's HPA sync 15 s, HPA's
      default behavior) with KEDA's operator and metrics API server run on the host.

Both get the same scaleDown stabilisation window (--down-window, so that a step can follow the last
one within a minute, not HPA's default 300 s); everything else is each scaler's default.

Per load step (base load -> step load, --steps of them, each after a random delay so that the step
does not fall at a fixed phase of either loop): from the query first crossing T x replicas x 1.1 in
Prometheus (sampled every 0.5 s) to the scaled Deployment's spec.replicas changing ("written"), to
it reaching the replicas the step needs, and to that many replicas Ready. The replicas are KWOK pods,
which turn Ready as soon as they are scheduled, and which serve nothing: the p99 latency "back under
target" cannot be observed here, so its proxy is the time until the needed replicas are Ready.
Then flips (spec.replicas changes) under a noisy steady load, and scale-from-zero: decision (crossing
-> replicas written), scheduling (-> pod bound), Ready (KWOK), and the model server's own model load
and first inference, measured on a fresh `lepton-serve` on this host (the same for both scalers).

KEDA on the host is in kedakit.py (its metrics API server is called anonymously by the
aggregator: see there and bench/README-autoscaling.md); the load and the sampling in scalewatch.py.
If KEDA is not built (e2e/tools/keda/build.sh) or does not come up, the script measures Lepton only
and prints KEDA's documented loop periods, labelled as such.

    python bench/bench_autoscaling.py [--steps 5] [--target 4] [--flip-seconds 120] [--keep]

Runs on a cluster of its own: state in /tmp/lepton-cluster-keda, every port +4000 (see bench_env).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
E2E = REPO / "e2e"
PATHS = [str(p) for p in (E2E, REPO / "operator", REPO / "tests", REPO / "tests" / "integration" / "serving")]
sys.path[:0] = PATHS
# The operator and lepton-serve run as subprocesses: they must import this tree's lepton, not the one
# the virtual environment may have installed (editable) from another checkout.
os.environ["PYTHONPATH"] = os.pathsep.join([*PATHS, *filter(None, [os.environ.get("PYTHONPATH")])])

import httpx  # noqa: E402
import torch  # noqa: E402
from kubernetes import client, config  # noqa: E402
from servekit import inference_service, model_version  # noqa: E402

from benchkit import cluster_env, install_crds, make_namespace  # noqa: E402
from kedakit import KEDA_DOCUMENTED, KEDA_VERSION, keda_bin, keda_objects, start_keda  # noqa: E402
from lepton.artifacts import MLPClassifier, save_artifact  # noqa: E402
from localcluster.config import Config  # noqa: E402
from scalewatch import OWNER_LABEL, Load, Watcher, summary  # noqa: E402
from support.kube import kubectl_runner  # noqa: E402
from support.operator import running_operator  # noqa: E402
from support.servers import Server, kill, launch  # noqa: E402
from support.wait import wait_for  # noqa: E402

GROUP, VERSION = "lepton.ai", "v1alpha1"
NAMESPACE = "bench"
LEPTON = "lep"  # the InferenceService; its Deployment is lep-v1
LEPTON_DEPLOYMENT = f"{LEPTON}-v1"
KEDA = "keda-target"  # the plain Deployment the ScaledObject scales
MODEL = "iris"
# The series both scalers read: requests per second of the service over 10 s (two samples at the
# cluster's 2 s scrape interval are enough; short, so a step shows in seconds). The placeholders are
# Lepton's custom-query syntax; KEDA gets the query with them filled in.
QUERY = 'sum(rate(lepton_serving_requests_total{namespace="{{namespace}}",service="{{service}}"}[10s]))'
TOLERANCE = 0.1  # Lepton's and HPA's default
INPUT = {"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [0.0] * 16}]}
REQUESTS = {"cpu": "500m", "memory": "1Gi"}  # of both scalers' server pods


def bench_env() -> dict[str, str]:
    """The cluster this benchmark owns: its own state dir and every port +4000 (the default cluster
    and those at +2000 and +3000 belong to other benchmarks and tests)."""
    return cluster_env("/tmp/lepton-cluster-keda", 4000, GPU_NODES="0", CPU_NODES="2", PROMETHEUS="1")


def localcluster(command: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(E2E)}
    subprocess.run([sys.executable, "-m", "localcluster", command], env=env, check=True)


@contextmanager
def model_server(home: Path) -> Iterator[tuple[Server, Path]]:
    torch.manual_seed(0)
    artifact = home / "model"
    save_artifact(MLPClassifier(16, 32, 4), artifact, example_input=torch.randn(2, 16))
    server = launch(artifact, home, name=MODEL)
    try:
        yield server, artifact
    finally:
        kill(server)


def model_load_and_first_inference(artifact: Path, home: Path) -> dict[str, float]:
    """What a new replica spends before its first answer, on this host: process start -> ready
    (model load) and the first inference request."""
    began = time.monotonic()
    server = launch(artifact, home, name=MODEL)
    try:
        loaded = time.monotonic()
        httpx.post(f"{server.url}/v2/models/{MODEL}/infer", json=INPUT, timeout=30).raise_for_status()
        answered = time.monotonic()
    finally:
        kill(server)
    return {"model_load_s": round(loaded - began, 2), "first_inference_s": round(answered - loaded, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="load steps (N)")
    parser.add_argument("--target", type=float, default=4.0, help="requests/s per replica (T)")
    parser.add_argument("--base", type=float, default=0.6, help="base load, in T (1 replica)")
    parser.add_argument("--step", type=float, default=3.5, help="step load, in T (ceil -> replicas)")
    parser.add_argument("--max-replicas", type=int, default=8)
    parser.add_argument("--down-window", type=int, default=30, help="scaleDown stabilisation (both)")
    parser.add_argument("--flip-seconds", type=int, default=120, help="noisy steady load duration")
    parser.add_argument("--noise", type=float, default=0.25, help="noise of the steady load, +/-")
    parser.add_argument("--no-keda", action="store_true", help="measure Lepton only")
    parser.add_argument("--no-zero", action="store_true", help="skip scale-from-zero")
    parser.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    os.environ.update(bench_env())
    cfg = Config.from_env()
    localcluster("up")
    try:
        return run(cfg, args)
    finally:
        if not args.keep:
            localcluster("down")


def run(cfg: Config, args: argparse.Namespace) -> int:
    from localcluster.cluster import tools_dir

    kubectl = kubectl_runner(str(tools_dir() / "kubectl"), str(cfg.kubeconfig))
    config.load_kube_config(str(cfg.kubeconfig))
    apps, core, custom = client.AppsV1Api(), client.CoreV1Api(), client.CustomObjectsApi()
    install_crds(cfg)
    make_namespace(client.ApiClient(), NAMESPACE)
    home = cfg.state_dir / "bench"
    home.mkdir(parents=True, exist_ok=True)
    query = QUERY.replace("{{namespace}}", NAMESPACE).replace("{{service}}", LEPTON)
    T = args.target
    step_replicas = min(math.ceil(args.step), args.max_replicas)
    loadavg_before = os.getloadavg()

    keda_error: str | None = "not run (--no-keda)" if args.no_keda else None
    bin_dir = None if args.no_keda else keda_bin()
    if not args.no_keda and bin_dir is None:
        keda_error = "KEDA binaries not built (e2e/tools/keda/build.sh)"
    if bin_dir is not None:
        keda = start_keda(cfg, kubectl, bin_dir)
        keda_error = keda.error

    env = {
        "LEPTON_VERIFY_TTL_SECONDS": "600",
        "LEPTON_CLUSTER_DOMAIN": "cluster.local",
        "LEPTON_LOG_LEVEL": "info",
    }
    with (
        model_server(home) as (server, artifact),
        running_operator(str(cfg.kubeconfig), home / "lepton-operator.log", env),
    ):
        host_port = server.url.removeprefix("http://")
        (cfg.prometheus_targets / "bench.json").write_text(
            json.dumps([{"targets": [host_port], "labels": {"namespace": NAMESPACE, "service": LEPTON}}])
        )
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions",
                                               model_version(MODEL, "v1"))  # fmt: skip
        wait_for(
            lambda: (custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions",
                                                         f"{MODEL}-v1").get("status") or {}).get("phase")
            == "Ready",
            60, f"ModelVersion {MODEL}-v1 Ready",
        )  # fmt: skip
        autoscaling = {
            "minReplicas": 1,
            "maxReplicas": args.max_replicas,
            "metric": "custom",
            "query": QUERY,
            "target": T,
            "prometheusUrl": cfg.prometheus_url,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": args.down_window}},
        }
        isvc = inference_service(LEPTON, MODEL, replicas=1, autoscaling=autoscaling)
        isvc["spec"]["server"]["resources"] = {"requests": REQUESTS}
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "inferenceservices", isvc)
        scalers = [LEPTON_DEPLOYMENT]
        if keda_error is None:
            deployment, scaled = keda_objects(
                KEDA, NAMESPACE, pod_labels={OWNER_LABEL: KEDA}, requests=REQUESTS,
                prometheus=cfg.prometheus_url, query=query, target=T,
                max_replicas=args.max_replicas, down_window=args.down_window,
            )  # fmt: skip
            apps.create_namespaced_deployment(NAMESPACE, deployment)
            custom.create_namespaced_custom_object("keda.sh", "v1alpha1", NAMESPACE, "scaledobjects", scaled)
            scalers.append(KEDA)

        with (
            Load(server.url, MODEL, INPUT) as load,
            Watcher(cfg.prometheus_url, query, apps, core, NAMESPACE, LEPTON_DEPLOYMENT) as watch,
        ):
            result = measure(args, cfg, watch, load, scalers, custom, step_replicas, artifact, home)
            failures = load.failures

    result["keda"] = (
        {"source": f"measured: KEDA {KEDA_VERSION} operator + metrics API server on the host"}
        if keda_error is None
        else {"error": keda_error, **KEDA_DOCUMENTED}
    )
    result["setup"] = {
        "query": QUERY,
        "target_rps_per_replica": T,
        "base_rps": round(args.base * T, 2),
        "step_rps": round(args.step * T, 2),
        "step_replicas": step_replicas,
        "lepton_poll_seconds": 5,
        "keda_polling_interval_s": 30,
        "hpa_sync_period_s": 15,
        "scale_down_window_s": args.down_window,
        "prometheus_scrape_interval": cfg.scrape_interval,
        "load_failures": failures,
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "ready_note": "KWOK pods turn Ready as soon as they are bound: Ready times are scheduling times",
        "p99_note": "replicas serve nothing on KWOK: 'p99 back under target' is proxied by the step's "
        "replicas all Ready",
    }
    print(json.dumps(result, indent=2))
    return 0


def measure(
    args: argparse.Namespace,
    cfg: Config,
    watch: Watcher,
    load: Load,
    scalers: list[str],
    custom: client.CustomObjectsApi,
    step_replicas: int,
    artifact: Path,
    home: Path,
) -> dict[str, Any]:
    rng = random.Random(args.seed)
    steps: dict[str, dict[str, list[float | None]]] = {
        name: {"written": [], "step_replicas_written": [], "ready": []} for name in scalers
    }
    crossings: list[float] = []
    flips: dict[str, int] = {}
    zero: dict[str, Any] = {}
    errors: list[str] = []
    # A bounded wait that fails ends the measurement there: what was measured so far is still
    # printed, with the failure (what was expected, what was seen) under "errors".
    try:
        load_steps(args, watch, load, scalers, step_replicas, rng, steps, crossings)
        flips.update(noisy_flips(args, watch, load, scalers))
        if not args.no_zero:
            zero = scale_from_zero(args, watch, load, scalers, custom, artifact, home, rng)
    except AssertionError as exc:
        errors.append(str(exc))
    load.set(0)

    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "steps": args.steps,
        "crossing_after_load_step_s": summary(list(crossings)),
    }
    for name in scalers:
        label = "lepton" if name == LEPTON_DEPLOYMENT else "keda_hpa"
        out[label] = {
            "crossing_to_replicas_written_s": summary(steps[name]["written"]),
            "crossing_to_step_replicas_written_s": summary(steps[name]["step_replicas_written"]),
            "crossing_to_step_replicas_ready_s": summary(steps[name]["ready"]),
            "flips_under_noisy_steady_load": flips.get(name),
            "flip_window_s": args.flip_seconds,
            **({"scale_from_zero": zero[name]} if name in zero else {}),
        }
    if "keda_hpa" in out:
        lep, kh = out["lepton"], out["keda_hpa"]
        out["ratio_keda_over_lepton"] = {
            key: round(kh[key]["p50"] / lep[key]["p50"], 1) if lep[key]["p50"] and kh[key]["p50"] else None
            for key in ("crossing_to_replicas_written_s", "crossing_to_step_replicas_written_s")
        }
    if "host" in zero:
        out["scale_from_zero_host"] = zero["host"]
    if errors:
        out["errors"] = errors
    return out


def load_steps(
    args: argparse.Namespace,
    watch: Watcher,
    load: Load,
    scalers: list[str],
    step_replicas: int,
    rng: random.Random,
    steps: dict[str, dict[str, list[float | None]]],
    crossings: list[float],
) -> None:
    T = args.target
    load.set(args.base * T)
    # Both at 1, and the query in Prometheus at the base load, before the first step.
    wait_for(lambda: (watch.last_value() or 0) > 0, 60, "the query to have a value in Prometheus",
             seen=watch.last_value)  # fmt: skip
    watch.settle(scalers, 1, 180, "before the first step")
    for i in range(args.steps):
        # A random phase against both loops (Lepton's 5 s poll, HPA's 15 s sync): the wait before a
        # step is part of the benchmark's sampling, not a synchronisation.
        time.sleep(rng.uniform(0, 15))
        began = time.monotonic()
        load.set(args.step * T)
        threshold = T * 1 * (1 + TOLERANCE)
        crossed = wait_for(
            lambda th=threshold, b=began: watch.crossing(b, th),
            60,
            f"step {i + 1}: the query above {threshold:g} after the load step",
            seen=watch.last_value,
        )
        crossings.append(crossed - began)
        watch.settle(scalers, step_replicas, 150, f"step {i + 1}")
        for name in scalers:
            written = watch.first(name, began, lambda spec, ready: spec != 1)
            full = watch.first(name, began, lambda spec, ready: spec >= step_replicas)
            ready = watch.first(name, began, lambda spec, ready: ready >= step_replicas)
            for key, at in (("written", written), ("step_replicas_written", full), ("ready", ready)):
                steps[name][key].append(None if at is None else at - crossed)
        load.set(args.base * T)
        watch.settle(scalers, 1, 180, f"after step {i + 1}")


def noisy_flips(args: argparse.Namespace, watch: Watcher, load: Load, scalers: list[str]) -> dict[str, int]:
    """Replica changes under a noisy load around twice the target. Both settle at 2 under the
    steady load first, so that the count starts from the same place for both."""
    load.set(2 * args.target)
    watch.settle(scalers, 2, 180, "under the steady load of 2 replicas")
    load.set(2 * args.target, noise=args.noise)
    began = time.monotonic()
    time.sleep(args.flip_seconds)  # the observation period itself
    return {name: watch.changes(name, began, time.monotonic()) for name in scalers}


def scale_from_zero(
    args: argparse.Namespace,
    watch: Watcher,
    load: Load,
    scalers: list[str],
    custom: client.CustomObjectsApi,
    artifact: Path,
    home: Path,
    rng: random.Random,
) -> dict[str, Any]:
    """Both allowed to zero after 30 s idle (Lepton: scaleToZero.idleSeconds, its minimum; KEDA:
    cooldownPeriod), silence until both are at zero, then the base load."""
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "inferenceservices", LEPTON,
        {"spec": {"autoscaling": {"minReplicas": 0, "scaleToZero": {"idleSeconds": 30}}}},
    )  # fmt: skip
    if KEDA in scalers:
        custom.patch_namespaced_custom_object(
            "keda.sh", "v1alpha1", NAMESPACE, "scaledobjects", KEDA,
            {"spec": {"minReplicaCount": 0, "cooldownPeriod": 30}},
        )  # fmt: skip
    load.set(0)
    watch.settle(scalers, 0, 300, "silence, scaled to zero")
    time.sleep(rng.uniform(0, 15))  # a random phase against both loops, as for the steps
    began = time.monotonic()
    load.set(args.base * args.target)
    crossed = wait_for(lambda: watch.crossing(began, 0.0), 60, "the query above 0 after silence",
                       seen=watch.last_value)  # fmt: skip
    watch.settle(scalers, 1, 120, "woken from zero")
    out: dict[str, Any] = {"crossing_after_load_s": round(crossed - began, 2)}
    for name in scalers:
        written = watch.first(name, began, lambda spec, ready: spec >= 1)
        bound = watch.first_bound(name, began)
        ready = watch.first(name, began, lambda spec, ready: ready >= 1)
        out[name] = {
            "decision_s": None if written is None else round(written - crossed, 2),
            "scheduling_s": None if bound is None or written is None else round(bound - written, 2),
            "ready_after_bound_s": None
            if ready is None or bound is None
            else round(max(0.0, ready - bound), 2),
        }
    # The model server's own part, on this host (KWOK pods run nothing): the same for both scalers.
    out["host"] = model_load_and_first_inference(artifact, home)
    return out


if __name__ == "__main__":
    shutil.which("openssl") or sys.exit("openssl is needed for KEDA's certificates")
    sys.exit(main())
