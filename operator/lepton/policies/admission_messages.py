"""What a waiting job is told (policies.admission): what it needs and how many fit, what its queue
waits behind, and the note a reserved head's message ends with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lepton.policies.admission import Gang

# The end of a waiting head's message once it holds a reservation (its bound counts from then).
RESERVATION_NOTE = "; holds a reservation: nothing admitted after it may take what it waits for"


def waiting_message(
    gang: Gang, fit_now: int, fit_ever: int, excluded: Sequence[str] = (), drain_in: float | None = None
) -> str:
    """What it needs and how many fit; ``excluded``: the reserved heads whose held nodes it could
    use (their free GPUs are not counted in ``fit_now``); ``drain_in``: for a gang with a deadline,
    how long the first of those reservations' nodes are bound to stay busy (None: some has no
    bound)."""
    unit = "GPU" if gang.gpus_per_pod == 1 else "GPUs"
    pod_word = "pod" if gang.pods == 1 else "pods"
    message = f"needs {gang.pods} {pod_word} x {gang.gpus_per_pod} {unit}; {min(fit_now, gang.pods)} fit now"
    if excluded:
        message += f" (the nodes held for {', '.join(excluded)} excluded"
        if gang.deadline is not None and drain_in is None:
            message += ": a job without activeDeadlineSeconds runs there"
        elif gang.deadline is not None and drain_in is not None:
            message += f": they drain within {drain_in:.0f}s, its activeDeadlineSeconds is {gang.deadline:g}s"
        message += ")"
    if fit_ever < gang.pods:
        message += f"; at most {fit_ever} fit on the matching nodes even when idle"
    return message


def why_blocking(blocker: str, reserved: Sequence[str]) -> str:
    """Why the gang ``blocker`` holds up the gangs behind it."""
    if blocker in reserved:
        return "which holds a reservation"
    return "the head of a StrictFIFO queue"
