"""What runs inside training pods: the ``lepton-train`` launcher and a small library for user scripts.

A script calls ``init_process_group()`` (or reads ``context()``), resumes with
``load_latest_checkpoint()``, checkpoints with ``save_checkpoint()``, reports progress with
``report_metrics()``, stops cleanly when ``stop_requested()``, and hands its model over with
``save_model()``.
"""

from lepton.runtime.checkpoint import Checkpoint, load_latest_checkpoint, save_checkpoint
from lepton.runtime.context import Context, barrier, context, default_backend, init_process_group
from lepton.runtime.metrics import latest_metrics, report_metrics
from lepton.runtime.model import save_model, termination_message
from lepton.runtime.preemption import (
    PREEMPTED_EXIT_CODE,
    install_sigterm_handler,
    sigterm_received,
    stop_requested,
)

__all__ = [
    "PREEMPTED_EXIT_CODE",
    "Checkpoint",
    "Context",
    "barrier",
    "context",
    "default_backend",
    "init_process_group",
    "install_sigterm_handler",
    "latest_metrics",
    "load_latest_checkpoint",
    "report_metrics",
    "save_checkpoint",
    "save_model",
    "sigterm_received",
    "stop_requested",
    "termination_message",
]
