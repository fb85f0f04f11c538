"""How long workers get to checkpoint after SIGTERM: the pod's grace period, less the agent's margin.

The kubelet SIGKILLs every process of the pod terminationGracePeriodSeconds after its SIGTERM. The
torchelastic agent forwards that SIGTERM to the workers and SIGKILLs them after its own shutdown
timeout (TORCH_ELASTIC_SHUTDOWN_TIMEOUT, 30 s by default), whatever the pod's grace period: a longer
grace period was cut to 30 s, and a shorter one let the kubelet kill the agent before it reported.
"""

from __future__ import annotations

from collections.abc import Mapping

from lepton.runtime import env

TORCH_SHUTDOWN_TIMEOUT = "TORCH_ELASTIC_SHUTDOWN_TIMEOUT"
# What the agent keeps back after the workers' deadline: reaping them (SIGKILL when they overran),
# closing the rendezvous, and exiting with their status before the kubelet's SIGKILL arrives. That
# took 0.9-1.7 s from the agent's SIGKILL to the launcher's exit on a loaded 2-core machine.
MAX_MARGIN_SECONDS = 5


class GraceError(ValueError):
    """The grace period in the environment is not a number of seconds."""


def agent_margin(grace: int) -> int:
    """5 s, or half of a grace period shorter than 10 s (the workers and the agent share it)."""
    return min(MAX_MARGIN_SECONDS, grace // 2)


def shutdown_timeout(grace: int) -> int:
    """Seconds the agent waits for workers after SIGTERM, for a pod grace period of ``grace``."""
    return max(1, grace - agent_margin(grace))


def shutdown_timeout_from_env(environ: Mapping[str, str]) -> int | None:
    """The agent's shutdown timeout for the pod's LEPTON_TERMINATION_GRACE_SECONDS; None when it is
    unset, which leaves it to torch (TORCH_ELASTIC_SHUTDOWN_TIMEOUT, else 30 s). Set, the grace
    period (what the API promises the workers) replaces any TORCH_ELASTIC_SHUTDOWN_TIMEOUT the image
    sets."""
    name = env.TERMINATION_GRACE_SECONDS
    value = environ.get(name)
    if not value:
        return None
    try:
        grace = int(value)
    except ValueError:
        raise GraceError(f"{name}={value!r} is not a whole number of seconds") from None
    if grace < 0:
        raise GraceError(f"{name}={value!r} must not be negative")
    return shutdown_timeout(grace)
