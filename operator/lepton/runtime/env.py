"""Names of the environment variables the operator injects and the runtime reads (docs/architecture.md)."""

from __future__ import annotations

import os

RESTART_ATTEMPT = "LEPTON_RESTART_ATTEMPT"
JOB_NAME = "LEPTON_JOB_NAME"
NAMESPACE = "LEPTON_NAMESPACE"
CHECKPOINT_DIR = "LEPTON_CHECKPOINT_DIR"
OUTPUT_DIR = "LEPTON_OUTPUT_DIR"
OUTPUT_URI = "LEPTON_OUTPUT_URI"
OUTPUT_FORMAT = "LEPTON_OUTPUT_FORMAT"
DIST_BACKEND = "LEPTON_DIST_BACKEND"
METRICS_PORT = "LEPTON_METRICS_PORT"
METRICS_ADDR = "LEPTON_METRICS_ADDR"
TERMINATION_MESSAGE_PATH = "LEPTON_TERMINATION_MESSAGE_PATH"
# The pod's terminationGracePeriodSeconds (runPolicy), which the pod cannot read any other way: the
# downward API does not expose it. The launcher fits the agent's shutdown timeout inside it.
TERMINATION_GRACE_SECONDS = "LEPTON_TERMINATION_GRACE_SECONDS"

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_METRICS_PORT = 9400
# Pods are reached by Prometheus on their pod IP, so the default binds every interface.
DEFAULT_METRICS_ADDR = "0.0.0.0"


def get(*names: str, default: str | None = None) -> str | None:
    """The first of ``names`` that is set and not empty: torchrun's PET_* names take precedence over
    the plain ones, as torchrun itself reads them."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def get_int(*names: str, default: int) -> int:
    value = get(*names)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{names[0]}={value!r} is not an integer") from None
