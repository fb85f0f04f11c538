"""TrainingJob initializers: a dataset and a base model fetched once per job into a shared volume
before the workers start, as Kubeflow Trainer v2's dataset and model initializers do."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import DIGEST_PATTERN, DnsLabel, EnvVar, LeptonModel, cel, validations

INITIALIZER_URI_PATTERN = r"^(file|pvc|s3|https?)://.+$"
DEFAULT_WORKSPACE = "/workspace"


class InitializerSource(LeptonModel):
    """Where one initializer fetches from, and what the fetched bytes must hash to."""

    uri: Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=INITIALIZER_URI_PATTERN)]
    """One file or a directory tree: file:///path (in the initializer's image), pvc://<claim>/<path>
    (the claim is mounted read-only), s3://<bucket>/<key or prefix> (boto3; credentials from env or
    the pod's identity) or http(s)://host/file."""
    digest: Annotated[str, StringConstraints(max_length=71, pattern=DIGEST_PATTERN)] | None = None
    """Expected sha256 ("sha256:<64 hex>") of the file, or for a tree the sha256 of its sha256sum
    listing in path order (docs/architecture.md); a mismatch fails the job with DigestMismatch."""


class Initializers(LeptonModel):
    """What the initializer pod fetches before any worker starts. It runs once per job (restarts
    reuse the fetched copy); workers mount the volume read-only and find the paths in
    LEPTON_DATASET_DIR and LEPTON_MODEL_DIR."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            [
                cel(
                    "has(self.dataset) || has(self.model)",
                    "initializers needs a dataset or a model",
                )
            ]
        )
    )

    volume: DnsLabel
    """Name of a volume in template.spec.volumes that every worker and the initializer pod can
    mount (a shared PersistentVolumeClaim for multi-node jobs; not an emptyDir, which a separate pod
    cannot share). The dataset goes to <path>/dataset, the model to <path>/model."""
    path: Annotated[str, StringConstraints(min_length=2, max_length=1024, pattern=r"^/[^:]*$")] = (
        DEFAULT_WORKSPACE
    )
    """Where the volume is mounted, in the initializer pod and (read-only) in the trainer container."""
    dataset: InitializerSource | None = None
    """The dataset, fetched to <path>/dataset (LEPTON_DATASET_DIR)."""
    model: InitializerSource | None = None
    """The base model, fetched to <path>/model (LEPTON_MODEL_DIR)."""
    image: Annotated[str, StringConstraints(max_length=1024)] | None = None
    """Image of the initializer containers (it runs lepton-init); default: the trainer's image."""
    env: Annotated[list[EnvVar], Field(max_length=64)] | None = None
    """Environment of the initializer containers, e.g. AWS_* credentials from a Secret or
    AWS_ENDPOINT_URL; the workers do not get it."""

    @model_validator(mode="after")
    def _something(self) -> Initializers:
        if self.dataset is None and self.model is None:
            raise ValueError("initializers needs a dataset or a model")
        return self

    def sources(self) -> dict[str, InitializerSource]:
        """The configured initializers by name (dataset, model)."""
        named = {"dataset": self.dataset, "model": self.model}
        return {name: source for name, source in named.items() if source is not None}

    def directory(self, name: str) -> str:
        return f"{self.path.rstrip('/')}/{name}"
