"""The Lepton Python client: submit and follow TrainingJobs, read their logs and ModelVersions,
call InferenceServices. Typed on the API's own models (lepton.api); talks to the API server with
the standard library, so it needs neither kopf nor the `kubernetes` package, only a kubeconfig.

    from lepton.client import TrainingJob, InferenceService
    job = TrainingJob.from_yaml("job.yaml").submit().wait(progress=True)
    InferenceService.get("mnist").predict(images)

Names are loaded on first use, so `import lepton.client` stays cheap for the `lepton` command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lepton.client.cluster import Cluster, connect
    from lepton.client.errors import JobFailed, LeptonError, NoCluster, NotFound, UsageError
    from lepton.client.inference import InferenceService
    from lepton.client.training import TrainingJob

_EXPORTS = {
    "Cluster": "lepton.client.cluster",
    "connect": "lepton.client.cluster",
    "JobFailed": "lepton.client.errors",
    "LeptonError": "lepton.client.errors",
    "NoCluster": "lepton.client.errors",
    "NotFound": "lepton.client.errors",
    "UsageError": "lepton.client.errors",
    "InferenceService": "lepton.client.inference",
    "TrainingJob": "lepton.client.training",
}
__all__ = [  # noqa: RUF022 - grouped as _EXPORTS
    "Cluster", "connect", "JobFailed", "LeptonError", "NoCluster", "NotFound", "UsageError",
    "InferenceService", "TrainingJob",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lepton.client' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(_EXPORTS[name]), name)
