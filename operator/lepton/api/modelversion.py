"""ModelVersion: an immutable record that an artifact is version V of model M, with its lineage."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import (
    ConditionList,
    DnsLabel,
    LeptonModel,
    Metrics,
    ModelSource,
    ObjectBase,
    cel,
    validations,
)
from lepton.api.times import Timestamp

KIND = "ModelVersion"
PLURAL = "modelversions"
SINGULAR = "modelversion"
SHORT_NAMES = ["mv"]

LATEST = "latest"
"""The version name that means "the newest Ready version"; no ModelVersion may be called that."""

MODEL_LABEL = "lepton.ai/model"
VERSION_LABEL = "lepton.ai/version"

SPEC_IMMUTABLE_MESSAGE = (
    "spec is immutable: a ModelVersion records one artifact; create a new version instead"
)


class ModelVersionPhase(StrEnum):
    """Where a ModelVersion is: Pending (not yet looked at), Verifying (artifact being checked),
    Ready (digest matches and the model loads) or Failed."""

    PENDING = "Pending"
    VERIFYING = "Verifying"
    READY = "Ready"
    FAILED = "Failed"


class ModelVersionConditionType(StrEnum):
    """Condition types of a ModelVersion."""

    VERIFIED = "Verified"
    READY = "Ready"


class ModelVersionReason(StrEnum):
    """Reasons the operator gives in ModelVersion conditions and events (and only these)."""

    PENDING = "Pending"
    VERIFYING = "Verifying"
    VERIFIED = "Verified"
    ARTIFACT_NOT_FOUND = "ArtifactNotFound"
    ARTIFACT_UNREADABLE = "ArtifactUnreadable"
    """The artifact exists but the verifying or serving user may not read it (the message names the
    reader's uid, the file's owner and mode)."""
    SOURCE_UNREACHABLE = "SourceUnreachable"
    """The artifact's store did not answer (an s3 endpoint down, unknown or timing out)."""
    DIGEST_MISMATCH = "DigestMismatch"
    LOAD_FAILED = "LoadFailed"
    UNSUPPORTED_FORMAT = "UnsupportedFormat"
    VERIFICATION_FAILED = "VerificationFailed"
    VERIFICATION_TIMED_OUT = "VerificationTimedOut"
    SERVED_BY = "ServedBy"
    INVALID_ANNOTATION = "InvalidAnnotation"


class TrainingJobRef(LeptonModel):
    """A reference to the TrainingJob that produced a model, in the ModelVersion's namespace."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    """Name of the TrainingJob."""
    uid: Annotated[str, StringConstraints(max_length=64)] | None = None
    """UID of the TrainingJob, telling this job apart from a later one with the same name."""


class Origin(LeptonModel):
    """Lineage: where the model came from."""

    training_job: TrainingJobRef | None = None
    """The TrainingJob that trained the model; unset for imported models."""


_SPEC_RULES = [
    cel("self == oldSelf", SPEC_IMMUTABLE_MESSAGE),
    cel(
        f"self.version != '{LATEST}'",
        f"version must not be '{LATEST}' (it is reserved for the newest Ready version)",
        field_path=".version",
    ),
]


class ModelVersionSpec(LeptonModel):
    """Desired state of a ModelVersion. Immutable once created."""

    model_config = ConfigDict(json_schema_extra=validations(_SPEC_RULES))

    model: DnsLabel
    """Name of the model (a DNS label); InferenceServices select versions by it."""
    version: DnsLabel
    """Version of the model (a DNS label, not "latest"), unique per model within the namespace."""
    source: ModelSource
    """The artifact: where it is, its format and digest."""
    framework: Annotated[str, StringConstraints(min_length=1, max_length=63)] = "pytorch"
    """Framework the model was built with."""
    description: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """Free text for humans: what changed in this version."""
    metrics: Metrics | None = None
    """Metrics of the model at the end of training (e.g. loss, accuracy)."""
    origin: Origin | None = None
    """Lineage: the TrainingJob that produced the model."""

    @model_validator(mode="after")
    def _not_latest(self) -> ModelVersionSpec:
        if self.version == LATEST:
            raise ValueError(_SPEC_RULES[1].message)
        return self


class ModelVersionStatus(LeptonModel):
    """Observed state of a ModelVersion, written by the operator."""

    phase: ModelVersionPhase | None = None
    """Pending, Verifying, Ready or Failed."""
    conditions: ConditionList | None = None
    """Conditions of the version (types: Verified, Ready)."""
    digest: Annotated[str, StringConstraints(max_length=128)] | None = None
    """Digest of the model file as computed during verification."""
    size_bytes: Annotated[int, Field(ge=0)] | None = None
    """Size of the model file in bytes."""
    verified_time: Timestamp | None = None
    """When verification last succeeded."""
    served_by: list[str] | None = None
    """Names of the InferenceServices in the namespace currently serving this version."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """metadata.generation the status was computed from."""


class ModelVersion(ObjectBase):
    """Version V of model M: a verified artifact with its lineage; the spec never changes after creation."""

    KIND: ClassVar[str] = KIND
    PLURAL: ClassVar[str] = PLURAL

    kind: Literal["ModelVersion"] = "ModelVersion"
    """Kind of the object: ModelVersion."""
    spec: ModelVersionSpec
    """Desired state of the version (immutable)."""
    status: ModelVersionStatus | None = None
    """Observed state of the version (written by the operator)."""


def model_version_name(model: str, version: str) -> str:
    """The conventional object name of version `version` of model `model`: "<model>-<version>"."""
    return f"{model}-{version}"
