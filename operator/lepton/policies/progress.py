"""A TrainingJob's live progress: rank 0's metrics endpoint (lepton.runtime.metrics, Prometheus text
format) read into ``status.progress``.

The operator reads the endpoint itself (controllers.training.progress), so training pods need no API
credentials; what it read and when becomes the status here. A read that fails or finds nothing
reported yet gives no progress, and the status keeps the last one with its lastUpdate: a reader can
tell how old it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from lepton.api.times import rfc3339_at

# Gauges of lepton.runtime.metrics -> fields of status.progress.
GAUGES: Mapping[str, str] = {
    "lepton_train_step": "step",
    "lepton_train_epoch": "epoch",
    "lepton_train_loss": "loss",
    "lepton_train_samples_per_second": "samplesPerSecond",
}


class ExpositionError(ValueError):
    """The endpoint answered with something that is not the Prometheus text format."""


def parse(text: str) -> dict[str, float]:
    """The progress gauges found in ``text`` (finite values only), by status field name."""
    found: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            field = GAUGES.get(family.name)
            if field is None:
                continue
            for sample in family.samples:
                if sample.name == family.name and not sample.labels and math.isfinite(sample.value):
                    found[field] = float(sample.value)
    except ValueError as exc:
        raise ExpositionError(f"not the Prometheus text format: {exc}") from None
    return found


def progress_status(values: Mapping[str, float], *, at: float) -> dict[str, Any] | None:
    """``status.progress`` for values read at ``at``; None when rank 0 reported nothing yet (its gauges
    start at 0 only once it reported a first value, so an all-absent read is no progress)."""
    if not values:
        return None
    progress: dict[str, Any] = {
        name: values[name] for name in ("epoch", "loss", "samplesPerSecond") if name in values
    }
    if "step" in values and values["step"] >= 0:
        progress["step"] = int(values["step"])
    progress["lastUpdate"] = rfc3339_at(at)
    return progress
