"""Generate the Grafana dashboards shipped in the chart (or check they are current).

    python charts/dashboards.py [--check]

Built with grafana-foundation-sdk (the `dev` extra) into charts/lepton/dashboards/*.json, which
templates/dashboards.yaml ships as ConfigMaps for Grafana's dashboard sidecar when
dashboards.enabled. The PromQL uses the metric names of lepton.metrics (operator),
lepton.runtime.metrics (rank 0 of a TrainingJob), lepton.serving.metrics and lepton.activator.metrics,
with the label convention of lepton.prom.queries: `namespace`, `pod` and `service` on every scraped
pod's series; the operator's InferenceService gauges carry the service's own `namespace` and
`service` (kept by honor_labels). The other source is NVIDIA's DCGM exporter (DCGM_FI_DEV_GPU_UTIL
with the GPU's pod in `namespace`/`pod`). The integration test
tests/integration/serving/test_dashboards_live.py sends every expression to a real Prometheus.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

OUTPUT = Path(__file__).resolve().parent / "lepton" / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
# Worker pods are <job>-worker-<index> (lepton.builders.workers.worker_name): the job is the prefix.
WORKER_POD = ".+-worker-[0-9]+"


def by_job(expr: str) -> str:
    return f'label_replace({expr}, "trainingjob", "$1", "pod", "(.+)-worker-[0-9]+")'


def requests(extra: str = "") -> str:
    return f"lepton_serving_requests_total{{{NS}{extra}}}"


SVC = "namespace, service, version"
ISVC = "lepton_operator_inferenceservice_"
GPU_UTIL = f'DCGM_FI_DEV_GPU_UTIL{{{NS},pod=~"{WORKER_POD}"}}'
ERRORS = requests(',code=~"5.."')


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: list[tuple[str, str]]
    """(PromQL, legend) pairs."""
    unit: str = "short"
    stat: bool = False


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    rows: dict[str, list[Panel]] = field(default_factory=dict)
    namespaced: bool = True


def per_job(title: str, description: str, metric: str, unit: str = "short") -> Panel:
    """A rank-0 metric of every TrainingJob."""
    expr = f"max by (namespace, trainingjob) ({by_job(f'{metric}{{{NS}}}')})"
    return Panel(title, description, [(expr, "{{namespace}}/{{trainingjob}}")], unit=unit)


def quantiles(title: str, description: str, buckets: str) -> Panel:
    """p50 and p95 of an operator histogram."""
    queries = [
        (f"histogram_quantile({q}, sum by (le) (rate({buckets}[{RATE}])))", f"p{round(q * 100)}")
        for q in (0.5, 0.95)
    ]
    return Panel(title, description, queries, unit="s")


OPERATOR = Board(
    "lepton-operator",
    "Lepton / Operator",
    "The operator's admission queue, reconciles and API errors (lepton_operator_*). max() over "
    "replicas: only the active replica of an HA pair counts jobs.",
    namespaced=False,
    rows={
        "Admission": [
            Panel("Queued TrainingJobs", "Jobs waiting for admission.",
                  [("max(lepton_operator_queue_length)", "queued")], stat=True),
            Panel("TrainingJobs by phase", "Jobs the operator tracks, by phase.",
                  [("max by (phase) (lepton_operator_trainingjobs)", "{{phase}}")]),
            Panel("Admissions per minute", "Gangs admitted.",
                  [(f"sum(rate(lepton_operator_admissions_total[{RATE}])) * 60", "admissions/min")]),
            quantiles("Admission wait (p50, p95)", "From the operator first seeing a job unadmitted to its "
                      "admission.", "lepton_operator_admission_wait_seconds_bucket"),
        ],
        "Reconciles": [
            quantiles("Reconcile duration (p50, p95)", "One TrainingJob reconcile.",
                      "lepton_operator_reconcile_duration_seconds_bucket"),
            Panel("Kubernetes API errors per second",
                  "Failed API requests by verb, resource and code (404 on delete and 409 on create are "
                  "not errors); the LeptonReconcileErrors alert fires on their rate. Zero when all is well.",
                  [(f"sum by (verb, resource, code) (rate(lepton_operator_api_errors_total[{RATE}])) "
                    f"or sum(rate(lepton_operator_api_requests_total[{RATE}])) * 0",
                    "{{verb}} {{resource}} {{code}}")], unit="reqps"),
            Panel("Kubernetes API requests per second", "By verb and resource.",
                  [(f"sum by (verb, resource) (rate(lepton_operator_api_requests_total[{RATE}]))",
                    "{{verb}} {{resource}}")], unit="reqps"),
            Panel("Job restarts", "Gang restarts in the range, by reason.",
                  [("sum by (reason) (increase(lepton_operator_restarts_total[$__range]))", "{{reason}}")]),
        ],
    },
)  # fmt: skip

TRAINING = Board(
    "lepton-training",
    "Lepton / Training",
    "Progress reported by rank 0 of each TrainingJob (lepton_train_*, pod <job>-worker-0) and GPU "
    "utilisation from NVIDIA's DCGM exporter.",
    rows={
        "Progress": [
            per_job("Step", "Optimizer steps taken, per job.", "lepton_train_step"),
            per_job("Epoch", "Epochs completed, per job.", "lepton_train_epoch"),
            per_job("Loss", "Training loss over the last reporting interval, per job.", "lepton_train_loss"),
            per_job("Throughput", "Samples per second over all ranks, per job.",
                    "lepton_train_samples_per_second"),
        ],
        "GPUs": [
            Panel("GPU utilisation per job", "Mean DCGM_FI_DEV_GPU_UTIL over the job's GPUs.",
                  [(f"avg by (namespace, trainingjob) ({by_job(GPU_UTIL)})",
                    "{{namespace}}/{{trainingjob}}")],
                  unit="percent"),
            Panel("GPU utilisation per worker", "Each worker pod's GPUs.",
                  [(f"avg by (namespace, pod, gpu) ({GPU_UTIL})", "{{pod}} gpu {{gpu}}")], unit="percent"),
        ],
    },
)  # fmt: skip

SERVING = Board(
    "lepton-serving",
    "Lepton / Serving",
    "InferenceServices: traffic, latency and batching from the model servers (lepton_serving_*), "
    "replicas, the canary's share and its analysis signals, and the activator of services at zero.",
    rows={
        "Traffic": [
            Panel("Requests per second", "Per service and version.",
                  [(f"sum by ({SVC}) (rate({requests()}[{RATE}]))", "{{service}} {{version}}")],
                  unit="reqps"),
            Panel("Latency p95", "95th percentile of request duration per service and version.",
                  [(f"histogram_quantile(0.95, sum by ({SVC}, le) "
                    f"(rate(lepton_serving_request_duration_seconds_bucket{{{NS}}}[{RATE}])))",
                    "{{service}} {{version}}")], unit="s"),
            Panel("Batch size", "Mean rows per model call (1 when unbatched).",
                  [(f"sum by ({SVC}) (rate(lepton_serving_batch_size_sum{{{NS}}}[{RATE}])) / "
                    f"sum by ({SVC}) (rate(lepton_serving_batch_size_count{{{NS}}}[{RATE}]))",
                    "{{service}} {{version}}")]),
            Panel("Queue depth and in-flight requests", "Requests waiting for a batch, and being handled.",
                  [(f"sum by ({SVC}) (lepton_serving_queue_depth{{{NS}}})", "queued {{service}} {{version}}"),
                   (f"sum by ({SVC}) (lepton_serving_inflight_requests{{{NS}}})",
                    "in flight {{service}} {{version}}")]),
        ],
        "Replicas": [
            Panel("Ready replicas", "Model servers whose model is loaded, per version.",
                  [(f"count by ({SVC}) (lepton_serving_model_ready{{{NS}}} == 1)",
                    "{{service}} {{version}}")]),
            Panel("Replicas against desired",
                  "What the operator decided (the autoscaler's total, else spec.replicas), what it wrote "
                  "into each version's Deployment, and each version's Ready replicas (the operator's "
                  "lepton_operator_inferenceservice_* gauges, as the status says).",
                  [(f"max by (namespace, service) ({ISVC}desired_replicas{{{NS}}})",
                    "desired {{service}}"),
                   (f"max by ({SVC}) ({ISVC}version_replicas{{{NS}}})",
                    "wanted {{service}} {{version}}"),
                   (f"max by ({SVC}) ({ISVC}ready_replicas{{{NS}}})",
                    "ready {{service}} {{version}}")]),
            Panel("Services by phase", "InferenceServices by status.phase.",
                  [(f"count by (phase) (max by (namespace, service, phase) "
                    f"(lepton_operator_inferenceservice_phase{{{NS}}}))", "{{phase}}")]),
        ],
        "Canary": [
            Panel("Canary weight", "status.canary.weight: the share the rollout gives the new version "
                  "(0 once rolled back), with its phase in the legend.",
                  [(f"max by ({SVC}) (lepton_operator_canary_weight{{{NS}}}) * on ({SVC}) group_left (phase) "
                    f"max by ({SVC}, phase) (lepton_operator_canary_phase{{{NS}}})",
                    "{{service}} {{version}} {{phase}}")], unit="percent"),
            Panel("Canary analysis values", "Each metric of the last analysis check of the new version "
                  "(requests: those it served in the interval) and its passing bound.",
                  [(f"max by ({SVC}, metric) (lepton_operator_canary_analysis_value{{{NS}}})",
                    "{{service}} {{version}} {{metric}}"),
                   (f"max by ({SVC}, metric, bound) (lepton_operator_canary_analysis_threshold{{{NS}}})",
                    "{{service}} {{version}} {{metric}} {{bound}}")]),
            Panel("Canary checks by result", "Analysis checks of the rollout: Pass, Fail (failureLimit "
                  "of them roll back), Inconclusive (too few requests), Error (queries failed).",
                  [(f"max by ({SVC}, result) (lepton_operator_canary_checks{{{NS}}})",
                    "{{service}} {{version}} {{result}}")]),
            Panel("Traffic share per version",
                  "The canary weight as served: each version's share of the service's requests.",
                  [(f"sum by ({SVC}) (rate({requests()}[{RATE}])) / ignoring (version) group_left "
                    f"sum by (namespace, service) (rate({requests()}[{RATE}]))", "{{service}} {{version}}")],
                  unit="percentunit"),
            Panel("Error rate per version (analysis: maxErrorRate)",
                  "Share of 5xx answers, as the rollout analysis computes it for the new version.",
                  [(f"(sum by ({SVC}) (rate({ERRORS}[{RATE}])) or "
                    f"sum by ({SVC}) (rate({requests()}[{RATE}])) * 0) / "
                    f"sum by ({SVC}) (rate({requests()}[{RATE}]))", "{{service}} {{version}}")],
                  unit="percentunit"),
        ],
        "Activator (scale from zero)": [
            Panel("Held requests", "Requests the activator holds while a replica starts.",
                  [(f"sum by (namespace, service) (lepton_activator_pending_requests{{{NS}}})",
                    "{{service}}")]),
            Panel("Cold start p95", "From the first held request to a ready replica.",
                  [(f"histogram_quantile(0.95, sum by (namespace, service, le) "
                    f"(rate(lepton_activator_cold_start_seconds_bucket{{{NS}}}[{RATE}])))", "{{service}}")],
                  unit="s"),
        ],
    },
)  # fmt: skip

BOARDS = (OPERATOR, TRAINING, SERVING)


def _panel(panel: Panel) -> timeseries.Panel | stat.Panel:
    builder = stat.Panel() if panel.stat else timeseries.Panel()
    builder.title(panel.title).description(panel.description).datasource(DATASOURCE).unit(panel.unit)
    builder.height(8).span(6 if panel.stat else 12)
    for ref, (expr, legend) in zip("ABCDEFGH", panel.queries, strict=False):
        builder.with_target(prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref))
    return builder


def build(board: Board) -> dict[str, object]:
    builder = (
        dashboard.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(["lepton"])
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )
    if board.namespaced:
        builder.with_variable(
            dashboard.QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query("label_values(up, namespace)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    for row, panels in board.rows.items():
        builder.with_row(dashboard.Row(row))
        for panel in panels:
            builder.with_panel(_panel(panel))
    out: dict[str, object] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return out


def render_all() -> dict[str, str]:
    return {f"{b.uid}.json": json.dumps(build(b), indent=2, sort_keys=True) + "\n" for b in BOARDS}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed JSON is not current")
    args = parser.parse_args(argv)
    files = render_all()
    if not args.check:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for stale in set(p.name for p in OUTPUT.glob("*.json")) - set(files):
            (OUTPUT / stale).unlink()
        for name, text in files.items():
            (OUTPUT / name).write_text(text)
        return 0
    problems = []
    for name, text in files.items():
        path = OUTPUT / name
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(True),
                text.splitlines(True),
                f"{name} (committed)",
                f"{name} (generated)",
                n=1,
            )
            problems.append("".join(list(diff)[:40]))
    problems += [
        f"{p.name}: stray (no dashboard generates it)\n" for p in OUTPUT.glob("*.json") if p.name not in files
    ]
    if problems:
        sys.stdout.write("".join(problems) + "run `python charts/dashboards.py` to regenerate\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
