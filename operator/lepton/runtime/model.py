"""Saving the trained model: the artifact, then the termination message the operator reads."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from lepton.artifacts import ArtifactInfo, save_artifact
from lepton.runtime import env
from lepton.runtime.context import context
from lepton.runtime.metrics import latest_metrics
from lepton.runtime.output import resolve_output, upload_s3

log = logging.getLogger(__name__)

# Kubernetes keeps at most 4096 bytes of a container's termination message, and the operator
# refuses a longer one (lepton.builders.modelversion.parse_termination_message).
MAX_TERMINATION_MESSAGE = 4096
# Kept first when the message must shrink.
_PRIORITY = ("loss", "epoch", "step", "accuracy", "samples_per_second")


class TerminationMessageTooLong(ValueError):
    """Even without metrics, the artifact reference does not fit in a termination message."""


def termination_message(info: ArtifactInfo, metrics: Mapping[str, Any]) -> str:
    """The termination message of docs/architecture.md, valid JSON of at most 4096 bytes.

    Only finite numbers are kept as metrics: the operator reads nothing else, NaN is not JSON, and
    a tensor would not serialise at all. When they do not all fit, metrics are dropped (least
    important first) before the artifact reference is ever touched; an artifact reference that
    alone is too long (a URI of some 4000 characters) raises TerminationMessageTooLong, since a
    cut URI would send the operator to the wrong place.
    """
    artifact = {"uri": info.uri, "digest": info.digest, "format": info.format}
    bare = _encode({}, artifact)
    if len(bare) > MAX_TERMINATION_MESSAGE:
        raise TerminationMessageTooLong(
            f"the artifact reference needs {len(bare)} bytes of the termination message's "
            f"{MAX_TERMINATION_MESSAGE}; write the artifact to a shorter URI"
        )
    numbers = {str(k): n for k, v in metrics.items() if (n := _finite_number(v)) is not None}
    ordered = [k for k in _PRIORITY if k in numbers] + [k for k in numbers if k not in _PRIORITY]
    room = MAX_TERMINATION_MESSAGE - len(bare)
    kept: dict[str, float | int] = {}
    for key in ordered:
        # Exact: compact separators, and ASCII-only output, so characters are bytes.
        size = len(json.dumps(key)) + 1 + len(json.dumps(numbers[key])) + (1 if kept else 0)
        if size <= room:
            kept[key] = numbers[key]
            room -= size
    return _encode(kept, artifact)


def _finite_number(value: Any) -> float | int | None:
    if hasattr(value, "item"):  # one-element tensors and numpy scalars
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and value.bit_length() > 64:
        return None  # json.dumps refuses ints of more than 4300 digits; none of that size fits
    return value if math.isfinite(value) else None


def _encode(metrics: Mapping[str, Any], artifact: Mapping[str, str]) -> str:
    return json.dumps(
        {"metrics": dict(metrics), "artifact": dict(artifact)}, separators=(",", ":"), allow_nan=False
    )


def termination_message_path() -> Path:
    return Path(os.environ.get(env.TERMINATION_MESSAGE_PATH) or env.DEFAULT_TERMINATION_MESSAGE_PATH)


def write_termination_message(message: str) -> bool:
    path = termination_message_path()
    try:
        # Not atomic on purpose: /dev/termination-log is a file the kubelet mounted, not ours to replace.
        path.write_text(message)
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)
        return False
    return True


def save_model(
    model: torch.nn.Module,
    example_input: torch.Tensor,
    *,
    format: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    directory: str | Path | None = None,
    architecture: str | None = None,
    architecture_args: Mapping[str, Any] | None = None,
    input_names: Sequence[str] = ("input",),
    output_names: Sequence[str] = ("output",),
) -> ArtifactInfo:
    """Write the model as an artifact (rank 0) and the termination message.

    The artifact goes to ``directory``, else LEPTON_OUTPUT_DIR, else where LEPTON_OUTPUT_URI points
    (see lepton.runtime.output); ``format`` defaults to LEPTON_OUTPUT_FORMAT, else torch-export.

    With a process group this is a collective: call it on every rank. Rank 0 writes the artifact;
    every rank gets its ArtifactInfo back, and the first worker of every pod writes the termination
    message, so the operator finds it whichever pod rank 0 ended up in (elastic jobs).
    """
    ctx = context()
    merged = {**latest_metrics(), **(metrics or {})}
    result: ArtifactInfo | BaseException | None = None
    if ctx.rank == 0:
        try:
            saved = save_artifact(
                model,
                Path(directory) if directory is not None else ctx.output_dir,
                format=format or ctx.output_format,
                example_input=example_input,
                input_names=input_names,
                output_names=output_names,
                architecture=architecture,
                architecture_args=architecture_args,
                metrics=merged,
            )
            upload_to = resolve_output(os.environ).upload_to
            if directory is None and upload_to:
                upload_s3(ctx.output_dir, upload_to)
            uri = ctx.output_uri if directory is None else None
            result = dataclasses.replace(saved, uri=uri) if uri else saved
        except Exception as exc:  # sent to the other ranks, then raised everywhere
            result = exc
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        # Rank 0's metrics too: every pod then writes the same message.
        sent = result if not isinstance(result, BaseException) else RuntimeError(str(result))
        box: list[Any] = [(sent, merged)]
        dist.broadcast_object_list(box, src=0)
        if ctx.rank != 0:
            result, merged = box[0]
    if isinstance(result, BaseException):
        raise result
    if result is None:
        raise RuntimeError("save_model: rank 0 did not report an artifact")
    if ctx.local_rank == 0:
        write_termination_message(termination_message(result, merged))
    if ctx.rank == 0:
        log.info(
            "saved model %s (%s, %s bytes) to %s", result.digest, result.format, result.size_bytes, result.uri
        )
    return result
