"""`lepton.client.TrainingJob`: the API model (lepton.api.TrainingJob) that can also submit itself,
wait with progress, read its logs and hand back the ModelVersion it produced.

    >>> from lepton.client import TrainingJob
    >>> job = TrainingJob.from_yaml("examples/trainingjob.yaml")  # doctest: +SKIP
    >>> job.submit().wait(progress=True)                          # doctest: +SKIP
    >>> job.model_version().status.phase                          # doctest: +SKIP
    'Ready'

docs/client.md has runnable examples (the tests run them against the local cluster).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import PrivateAttr

from lepton import api
from lepton.client import progress
from lepton.client.cluster import Cluster, connect
from lepton.client.errors import JobFailed
from lepton.client.kinds import MODEL_VERSION, TRAINING_JOB
from lepton.client.watch import follow_job, job_logs


def _print_lines(lines: Sequence[str], snapshot: progress.Snapshot) -> None:
    for line in lines:
        print(line, file=sys.stdout, flush=True)


class Bound:
    """What the client classes share: the cluster they talk to (connected on first use)."""

    _cluster: Cluster | None

    def bind(self, cluster: Cluster) -> Self:
        self._cluster = cluster
        return self

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = connect(namespace=getattr(self, "namespace", "") or None)
        return self._cluster


class TrainingJob(Bound, api.TrainingJob):
    """A TrainingJob (every field of lepton.api.TrainingJob) with the client's verbs."""

    _cluster: Cluster | None = PrivateAttr(default=None)

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainingJob:
        import yaml  # noqa: PLC0415

        return cls.model_validate(yaml.safe_load(Path(path).read_text()))

    @classmethod
    def get(cls, name: str, *, namespace: str | None = None, cluster: Cluster | None = None) -> TrainingJob:
        cluster = cluster or connect(namespace=namespace)
        return cls.model_validate(cluster.get(TRAINING_JOB, name)).bind(cluster)

    def manifest(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"status"})

    def submit(self) -> Self:
        """Create the job on the cluster; the object then holds what the API server returned."""
        created = self.cluster.create(TRAINING_JOB, self.manifest())
        return self._update(created)

    def _update(self, body: dict[str, Any]) -> Self:
        fresh = type(self).model_validate(body)
        self.metadata, self.status = fresh.metadata, fresh.status
        return self

    def refresh(self) -> Self:
        return self._update(self.cluster.get(TRAINING_JOB, self.name))

    def wait(
        self,
        progress: bool | Callable[[Sequence[str], progress.Snapshot], None] = False,
        *,
        timeout: float | None = None,
    ) -> Self:
        """Block until the job succeeds (returns it) or fails (raises JobFailed with the reason).

        ``progress=True`` prints each change (phase, queue position, pods, epoch/loss/throughput,
        the ModelVersion); a callable receives the lines and the snapshot instead.
        """
        show = progress if callable(progress) else (_print_lines if progress else lambda lines, snap: None)
        # From the version this object holds (what submit() got back), so the watch also sees the
        # phases the operator wrote before a first read would have (an old version: read afresh).
        held = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        start = held if self.metadata.resource_version else None
        done, _ = follow_job(self.cluster, self.name, show, timeout=timeout, created=start)
        self.refresh()
        if not done.succeeded:
            raise JobFailed(
                f"tj/{self.name} {done.describe()}", f"`lepton logs tj/{self.name}` shows the workers' logs"
            )
        return self

    def logs(self, follow: bool = False) -> Iterator[str]:
        """Every rank's log lines, prefixed "[rank N]" (followed across restarts with follow=True)."""
        width = len(str(max(0, self.spec.replicas - 1)))
        for item in job_logs(self.cluster, self.name, follow_logs=follow):
            yield item if isinstance(item, str) else item.render(width)

    def model_version(self) -> api.ModelVersion | None:
        """The ModelVersion this job produced (None until it succeeded with spec.output set)."""
        self.refresh()
        name = self.status.model_version if self.status else None
        if not name:
            return None
        return api.ModelVersion.model_validate(self.cluster.get(MODEL_VERSION, name))
