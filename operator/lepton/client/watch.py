"""Following a TrainingJob until it finishes: the cluster reads behind `lepton train --follow` and
`TrainingJob.wait()`. What is shown is decided by the pure `progress` module."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lepton.client import progress
from lepton.client.cluster import Cluster
from lepton.client.errors import LeptonError
from lepton.client.kinds import MODEL_VERSION, TRAINING_JOB
from lepton.client.logs import Line, follow, interleave, rank_of


def read_snapshot(
    cluster: Cluster, job: Mapping[str, Any], priorities: Mapping[str, int] | None = None
) -> progress.Snapshot:
    """The snapshot of one version of the job, with its pods, queue position and ModelVersion now."""
    name = str(job["metadata"]["name"])
    status = job.get("status") or {}
    position = None
    if status.get("phase") == "Queued":
        # The operator's own count (it knows quotas and reservations) when it wrote one; else an
        # estimate from the other Queued jobs, for an operator from before status.queuePosition.
        position = status.get("queuePosition") or progress.queue_position(
            job, cluster.objects(TRAINING_JOB), priorities or {}
        )
    mv = None
    if status.get("modelVersion"):
        try:
            mv = cluster.get(MODEL_VERSION, str(status["modelVersion"]))
        except LeptonError:
            mv = None  # deleted since, or not readable: the name alone is still worth showing
    return progress.snapshot(job, cluster.pods(name), position=position, model_version=mv)


def follow_job(
    cluster: Cluster,
    name: str,
    show: Callable[[Sequence[str], progress.Snapshot], None],
    *,
    window_seconds: int = 2,
    timeout: float | None = None,
    created: Mapping[str, Any] | None = None,
) -> tuple[progress.Outcome, progress.Snapshot]:
    """Watch the job (every status write) and look at its pods at least every ``window_seconds``;
    hand every change to ``show`` and return once it succeeded or failed. ``created``: the object
    the create returned, so the watch starts there and misses none of the first phases."""
    priorities = cluster.priority_values()
    deadline = None if timeout is None else time.monotonic() + timeout
    before: progress.Snapshot | None = None
    start = dict(created) if created is not None else None
    for job in cluster.versions(TRAINING_JOB, name, window_seconds, start):
        now = read_snapshot(cluster, job, priorities)
        lines = progress.changes(before, now)
        if lines or before is None:
            show(lines, now)
        before = now
        done = progress.outcome(now)
        if done is not None:
            return done, now
        if deadline is not None and time.monotonic() > deadline:
            raise LeptonError(
                f"tj/{name} is still {now.phase or 'not started'} after {timeout:g} s",
                f"`lepton describe tj/{name}` says why",
            )
    raise AssertionError("unreachable: versions() ends only by raising")


@dataclass
class JobLogs:
    """The log source of one TrainingJob's workers on a cluster."""

    cluster: Cluster
    job: str
    container: str = "trainer"

    def pods(self) -> Sequence[Mapping[str, Any]]:
        return self.cluster.pods(self.job)

    def lines(self, pod: str, *, follow: bool, since_time: str) -> Iterable[bytes]:
        return self.cluster.log_lines(pod, self.container, follow=follow, since_time=since_time)

    def finished(self) -> bool:
        phase = (self.cluster.get(TRAINING_JOB, self.job).get("status") or {}).get("phase")
        return phase in (progress.SUCCEEDED, progress.FAILED)


def job_logs(cluster: Cluster, name: str, *, follow_logs: bool = False) -> Iterable[Line | str]:
    """Every rank's log: merged by time, or followed across restarts until the job finishes."""
    source = JobLogs(cluster, name)
    job = cluster.get(TRAINING_JOB, name)
    pods = [p for p in source.pods() if rank_of(p) >= 0]
    if follow_logs:
        replicas = int((job.get("spec") or {}).get("replicas") or 1)
        return follow(source, {*range(replicas), *map(rank_of, pods)})
    if not pods:
        raise LeptonError(
            f"tj/{name} has no worker pods", "they are created once it is admitted; add -f to wait"
        )
    streams = {rank_of(p): source.lines(p["metadata"]["name"], follow=False, since_time="") for p in pods}
    return interleave(streams)
