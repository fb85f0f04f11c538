"""A real job on the real node followed as a user would (issues #16 and #18): `lepton train --follow`
sees every phase and exits 0 naming the ModelVersion; status.progress is refreshed from rank 0 while
it trains (never read more than 30 s old) and `kubectl get tj` shows it; `lepton logs` gives every
rank's lines with its prefix; a failing job makes `lepton train --follow` exit 1 with the reason.

While the command follows the job, the test reads the job on its own: an independent watch records
every phase the status was written with, and samples (the object and `kubectl get tj`, about one a
second) are what a user looking at random moments would have seen.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2ekit import cli_env, host_path_claim, lepton, lepton_command, real_training_job
from kubernetes import client, watch

from localcluster.config import Config
from support.kube import Kubectl, fresh_namespace, table_columns
from support.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

GROUP, VERSION, PLURAL = "lepton.ai", "v1alpha1", "trainingjobs"
JOB = "follow"
# 10 epochs of 32 steps a rank at 0.1 s a step: about 35 s of training, so the operator's default
# 10 s progress poll writes status.progress several times while the job runs.
TRAIN = [
    "lepton-train", "-m", "lepton.runtime.examples.classifier",
    "--epochs=10", "--min-epochs=10", "--target-loss=10", "--step-delay=0.1",
]  # fmt: skip
STALE_LIMIT_SECONDS = 30.0  # issue #16: the progress a user reads is at most 30 s old
SAMPLE_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Sample:
    at: float
    """Wall-clock time of the read (the operator and this test share the clock)."""
    phase: str
    progress: dict[str, Any]
    columns: dict[str, str]
    """`kubectl get tj`'s columns by header, read while the job was Running."""


@dataclass(frozen=True)
class Followed:
    cli: subprocess.CompletedProcess[str]
    seconds: float
    samples: list[Sample]
    phases: list[str]
    """Every phase the job's status was written with, in order, as an independent watch saw it."""
    writes: list[str]
    """Every status.progress.lastUpdate written, in order (the same watch)."""
    job: dict[str, Any]
    trained_until: float
    """When rank 0 logged its last epoch: from then on it saves the model and exits, and its
    endpoint has nothing newer to give (the phase stays Running until every worker is done)."""
    tail: str
    """What took the time from rank 0's last epoch to the phase Succeeded (printed, not asserted)."""


def epoch_of(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def record_phases(
    kube: client.ApiClient,
    namespace: str,
    since: str,
    out: list[str],
    writes: list[str],
    stop: threading.Event,
) -> None:
    """Append each phase change of the job's status to ``out``, and each new progress lastUpdate to
    ``writes``, from resource version ``since`` until ``stop``."""
    api = client.CustomObjectsApi(kube)
    while not stop.is_set():
        stream = watch.Watch().stream(
            api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
            field_selector=f"metadata.name={JOB}", resource_version=since, timeout_seconds=2,
        )  # fmt: skip
        for event in stream:
            since = event["object"]["metadata"]["resourceVersion"]
            phase = (event["object"].get("status") or {}).get("phase")
            if phase and (not out or out[-1] != phase):
                out.append(phase)
            update = ((event["object"].get("status") or {}).get("progress") or {}).get("lastUpdate")
            if update and (not writes or writes[-1] != update):
                writes.append(update)


def sample(kube: client.ApiClient, kubectl: Kubectl, namespace: str) -> Sample | None:
    api = client.CustomObjectsApi(kube)
    try:
        job = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, JOB)
    except client.ApiException as exc:
        if exc.status == 404:  # the command has not created it yet
            return None
        raise
    at = time.time()
    status = job.get("status") or {}
    phase = str(status.get("phase") or "")
    columns: dict[str, str] = {}
    if phase == "Running":
        columns = table_columns(kubectl("get", "tj", JOB, "-n", namespace).stdout)
    return Sample(at, phase, dict(status.get("progress") or {}), columns)


@pytest.fixture(scope="module")
def followed(
    operator_running: None,
    e2e_cluster: Config,
    kube: client.ApiClient,
    kubectl: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Followed]]:
    """`lepton train -f job.yaml --follow` of a real job with a ModelVersion, observed to its end."""
    with fresh_namespace(kube, "follow", "e2e") as namespace:
        folder = e2e_cluster.state_dir / "e2e" / f"models-{uuid.uuid4().hex[:8]}"
        kubectl("apply", "-f", "-", input=as_list(host_path_claim(namespace, "models", folder)))
        job = real_training_job(
            JOB, namespace, TRAIN,
            mounts={"models": "/mnt/pvc/models"},
            runPolicy={"backoffLimit": 1, "activeDeadlineSeconds": 600},
            output={"model": JOB, "version": "v1", "uri": f"pvc://models/{JOB}/v1", "format": "torch-export"},
        )  # fmt: skip
        manifest = tmp_path_factory.mktemp("follow") / "job.yaml"
        manifest.write_text(json.dumps(job))  # JSON is YAML
        try:
            yield namespace, follow_while_sampling(e2e_cluster, namespace, manifest, kube, kubectl)
        finally:
            kubectl("delete", "pv", f"{namespace}-models", "--wait=false", check=False)


def as_list(items: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def follow_while_sampling(
    cfg: Config, namespace: str, manifest: Path, kube: client.ApiClient, kubectl: Kubectl
) -> Followed:
    api = client.CustomObjectsApi(kube)
    since = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["metadata"][
        "resourceVersion"
    ]
    phases: list[str] = []
    writes: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=record_phases, args=(kube, namespace, since, phases, writes, stop), daemon=True
    )
    watcher.start()
    out, err = manifest.with_suffix(".out"), manifest.with_suffix(".err")
    began = time.monotonic()
    samples: list[Sample] = []
    try:
        with out.open("w") as stdout, err.open("w") as stderr:
            command = lepton_command(
                cfg, namespace, "train", "-f", str(manifest), "--follow", "--timeout", "600"
            )
            proc = subprocess.Popen(command, env=cli_env(), stdout=stdout, stderr=stderr, text=True)
            while True:
                if (taken := sample(kube, kubectl, namespace)) is not None:
                    samples.append(taken)
                try:
                    proc.wait(timeout=SAMPLE_EVERY_SECONDS)  # paces the samples; ends with the command
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - began > 660:
                        proc.kill()
                        raise AssertionError(
                            f"`lepton train --follow` still running after 660 s: {out.read_text()}"
                        ) from None
        seconds = time.monotonic() - began
        job = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, JOB)
        final = (job.get("status") or {}).get("phase")
        wait_for(
            lambda: phases and phases[-1] == final, 30, f"the watch to see phase {final}", seen=lambda: phases
        )
    finally:
        stop.set()
        watcher.join(10)
    done = subprocess.CompletedProcess(command, proc.returncode, out.read_text(), err.read_text())
    print(f"\n`lepton train --follow` of a real job: {seconds:.1f}s, {len(samples)} samples; phases {phases}")
    trained_until = last_epoch_logged(kubectl, namespace)
    tail = tail_after_training(kubectl, namespace, job, trained_until)
    return Followed(done, seconds, samples, phases, writes, job, trained_until, tail)


def last_epoch_logged(kubectl: Kubectl, namespace: str) -> float:
    log = kubectl("logs", "-n", namespace, f"{JOB}-worker-0", "--timestamps").stdout
    stamps = re.findall(r"^(\S+) lepton-example: epoch \d+ loss", log, flags=re.MULTILINE)
    assert stamps, f"rank 0 logged no epoch: {log[-2000:]}"
    return epoch_of(stamps[-1])


def tail_after_training(kubectl: Kubectl, namespace: str, job: dict[str, Any], trained_until: float) -> str:
    """Seconds from rank 0's last epoch to its model saved (its log), its container finished (the
    kubelet's whole seconds) and the job Succeeded (the condition's)."""
    log = kubectl("logs", "-n", namespace, f"{JOB}-worker-0", "--timestamps").stdout
    saved = re.findall(r"^(\S+) lepton-example: reached loss", log, flags=re.MULTILINE)
    pod = json.loads(kubectl("get", "pod", "-n", namespace, f"{JOB}-worker-0", "-o", "json").stdout)
    finished = [
        c["state"]["terminated"]["finishedAt"]
        for c in pod["status"].get("containerStatuses", [])
        if "terminated" in c.get("state", {})
    ]
    succeeded = [c["lastTransitionTime"] for c in job["status"]["conditions"] if c["type"] == "Succeeded"]
    stamps = {"model saved": saved[-1:], "rank 0 exited": finished, "job Succeeded": succeeded}
    return ", ".join(f"{what} +{epoch_of(at[0]) - trained_until:.1f}s" for what, at in stamps.items() if at)


def cli_phases(stdout: str) -> list[str]:
    """The phases `lepton train --follow` printed ("HH:MM:SS phase Running (...): ..."), a phase
    again under a new reason counted once."""
    seen: list[str] = []
    for phase in re.findall(r"^\d\d:\d\d:\d\d phase (\w+)", stdout, flags=re.MULTILINE):
        if not seen or seen[-1] != phase:
            seen.append(phase)
    return seen


def test_train_follow_shows_every_phase_and_exits_0_naming_the_model_version(
    followed: tuple[str, Followed], kubectl: Kubectl
) -> None:
    namespace, run = followed
    assert run.cli.returncode == 0, run.cli.stdout + run.cli.stderr
    assert run.phases[-1] == "Succeeded", run.phases
    assert "Running" in run.phases, run.phases
    assert cli_phases(run.cli.stdout) == run.phases, run.cli.stdout
    version = run.job["status"]["modelVersion"]
    last = run.cli.stdout.strip().splitlines()[-1]
    assert re.search(rf"tj/{JOB} succeeded in \d+s; model version {re.escape(version)}\b", last), last
    kubectl("get", "modelversion", version, "-n", namespace)  # it exists


def progress_while_running(run: Followed) -> list[Sample]:
    return [s for s in run.samples if s.phase == "Running" and s.progress]


def test_progress_is_refreshed_while_rank_0_trains_and_never_older_than_30s(
    followed: tuple[str, Followed],
) -> None:
    """The 30 s bound holds while rank 0 trains. After its last epoch the job stays Running while
    rank 0 saves the model, the workers exit and the kubelet reports it: nothing newer can be read,
    so that tail is measured and printed, not bounded."""
    _, run = followed
    seen = progress_while_running(run)
    distinct: list[dict[str, Any]] = []
    for s in seen:
        if not distinct or s.progress != distinct[-1]:
            distinct.append(s.progress)
    assert len(distinct) >= 2, f"status.progress written {len(distinct)} time(s) while Running: {distinct}"
    steps = [int(p["step"]) for p in distinct]
    assert steps == sorted(set(steps)), f"the step did not increase at each refresh: {steps}"
    for p in distinct:
        assert {"step", "epoch", "loss", "samplesPerSecond", "lastUpdate"} <= set(p), p
    gaps = [round(epoch_of(b) - epoch_of(a)) for a, b in zip(run.writes, run.writes[1:], strict=False)]
    print(f"\n{len(distinct)} progress values while Running, steps {steps}; seconds between writes: {gaps}")
    training = [s.at - epoch_of(s.progress["lastUpdate"]) for s in seen if s.at <= run.trained_until]
    after = [s.at - epoch_of(s.progress["lastUpdate"]) for s in seen if s.at > run.trained_until]
    print(
        f"progress age while rank 0 trained: {spread(training)}; "
        f"after its last epoch, still Running: {spread(after)} ({run.tail})"
    )
    assert training, "no sample of the progress while rank 0 trained"
    assert max(training) <= STALE_LIMIT_SECONDS, (
        f"status.progress read {max(training):.1f}s old: {sorted(training)}"
    )


def spread(ages: list[float]) -> str:
    if not ages:
        return "no sample"
    ordered = sorted(ages)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{len(ages)} samples, p50 {statistics.median(ordered):.1f}s, p95 {p95:.1f}s, max {ordered[-1]:.1f}s"
    )


def test_kubectl_get_shows_step_and_loss_while_running(followed: tuple[str, Followed]) -> None:
    _, run = followed
    # The row is read after the object: a sample whose job finished in between is left out.
    shown = [s.columns for s in progress_while_running(run) if s.columns.get("PHASE") == "Running"]
    assert shown, f"no `kubectl get tj` row while Running: {[s.columns for s in run.samples][:5]}"
    for columns in shown:  # progress was there when the object was read, and never goes away
        assert int(columns["STEP"]) > 0, columns
        assert float(columns["LOSS"]) >= 0, columns


def test_logs_interleave_every_rank_with_its_prefix(
    followed: tuple[str, Followed], e2e_cluster: Config, kubectl: Kubectl
) -> None:
    """Each rank's lines, prefix stripped, are exactly its pod's log, in order."""
    namespace, _ = followed
    done = lepton(e2e_cluster, namespace, "logs", f"tj/{JOB}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for rank in (0, 1):
        prefix = f"[rank {rank}] "
        own = [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
        pod_log = kubectl("logs", "-n", namespace, f"{JOB}-worker-{rank}").stdout.splitlines()
        assert own, f"no line of rank {rank}: {lines[:5]}"
        assert own == pod_log, f"rank {rank}: {own[:5]} vs the pod's {pod_log[:5]}"
    assert all(re.match(r"\[rank [01]\] ", line) for line in lines), lines[:5]
    assert any("lepton-example: epoch 10 loss" in line for line in lines if line.startswith("[rank 0] "))


def test_train_follow_exits_1_with_the_reason_when_the_job_fails(
    operator_running: None, e2e_cluster: Config, namespace: str, tmp_path: Path
) -> None:
    """Workers that exit 1 (restarts exhausted after one): exit code 1, the reason on stderr."""
    job = real_training_job(
        "fails", namespace, ["sh", "-c", "echo failing on purpose; exit 1"], runPolicy={"backoffLimit": 1}
    )
    manifest = tmp_path / "fails.yaml"
    manifest.write_text(json.dumps(job))
    began = time.monotonic()
    done = lepton(
        e2e_cluster, namespace, "train", "-f", str(manifest), "--follow", "--timeout", "300", timeout=360
    )
    print(f"\n`lepton train --follow` of a failing job: {time.monotonic() - began:.1f}s")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: tj/fails Failed: BackoffLimitExceeded" in done.stderr, done.stderr
    assert "lepton logs tj/fails" in done.stderr, done.stderr
    assert "restart 1" in done.stdout, done.stdout
    assert cli_phases(done.stdout)[-1] == "Failed", done.stdout
