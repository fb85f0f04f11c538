"""Loading a model artifact for serving: digest check, device placement, warm-up, one-batch runs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from lepton.artifacts import ArtifactError, Manifest, load_artifact
from lepton.serving.codec import DTYPES

log = logging.getLogger(__name__)


def pick_device(requested: str = "auto") -> str:
    """``auto`` is the first GPU when torch sees one, else the CPU."""
    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]

    @property
    def batched(self) -> bool:
        """A dynamic leading dimension is the batch dimension requests can be merged along."""
        return len(self.shape) > 0 and self.shape[0] == -1


class ModelRunner:
    """A loaded model that takes one numpy batch and returns one numpy batch, on its device."""

    def __init__(self, module: Any, manifest: Manifest, device: str) -> None:
        self.module = module
        self.manifest = manifest
        self.device = torch.device(device)
        if len(manifest.inputs) != 1 or len(manifest.outputs) != 1:
            raise ArtifactError(
                f"the manifest declares {len(manifest.inputs)} inputs and {len(manifest.outputs)} outputs; "
                "the server serves models with exactly one of each"
            )
        self.input = TensorSpec(
            manifest.inputs[0].name, manifest.inputs[0].datatype, tuple(manifest.inputs[0].shape)
        )
        self.output = TensorSpec(
            manifest.outputs[0].name, manifest.outputs[0].datatype, tuple(manifest.outputs[0].shape)
        )
        if self.input.datatype not in DTYPES or self.input.datatype == "BYTES":
            raise ArtifactError(f"input datatype {self.input.datatype} cannot be served")

    def __call__(self, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        with torch.inference_mode():
            tensor = torch.from_numpy(batch)
            if self.device.type != "cpu":
                tensor = tensor.to(self.device, non_blocking=True)
            out = self.module(tensor)
            result: npt.NDArray[Any] = out.detach().cpu().numpy()
        return result

    def example(self, rows: int) -> npt.NDArray[Any]:
        """A zero batch of ``rows`` rows in the input's shape (other dynamic dimensions become 1)."""
        dims = [
            rows if index == 0 and self.input.batched else max(dim, 1)
            for index, dim in enumerate(self.input.shape)
        ]
        return np.zeros(dims, dtype=DTYPES[self.input.datatype])

    def warm_up(self, max_batch_size: int) -> float:
        """Run a batch of one and a full batch (first calls compile and allocate); seconds taken."""
        start = time.monotonic()
        sizes = {1, max_batch_size} if self.input.batched else {1}
        for rows in sorted(sizes):
            out = self(self.example(rows))
            if self.input.batched and out.shape[:1] != (rows,):
                raise ArtifactError(f"warm-up: a batch of {rows} gave output shape {list(out.shape)}")
        return time.monotonic() - start


def load_runner(model_dir: str | Path, device: str = "auto") -> ModelRunner:
    """Load and digest-check the artifact in ``model_dir``; raises ``ArtifactError`` with the reason."""
    device = pick_device(device)
    start = time.monotonic()
    loaded = load_artifact(model_dir, verify_digest=True, device=device)
    runner = ModelRunner(loaded.module, loaded.manifest, device)
    log.info(
        "loaded %s artifact %s (%s) on %s in %.2fs",
        loaded.manifest.format,
        model_dir,
        loaded.manifest.digest,
        device,
        time.monotonic() - start,
    )
    return runner
