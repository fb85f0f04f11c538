"""Preemptions under way, kept beside the queue: which waiting job preempted which running ones, so
that the victims' reconciles stop them (each job acts on its own pods and writes its own status),
the victims' GPUs are held for the preemptor while they free up, and no second preemption starts
for a preemptor whose victims are still stopping. The choice itself is policies.preemption."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lepton.policies import preemption
from lepton.policies.admission import Demand, Gang
from lepton.policies.placement import Node

# While its victims stop, the preemptor looks again this often even if no event wakes it.
PREEMPTION_POLL_S = 5.0


@dataclass(frozen=True)
class Pending:
    victims: tuple[str, ...]
    nodes: frozenset[str]
    """the victims' nodes: their free GPUs are held for the preemptor"""


class Preemptions:
    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}  # preemptor -> its preemption
        self._victims: dict[str, tuple[str, str]] = {}  # victim -> (its uid, preemptor)

    def __bool__(self) -> bool:
        """Whether a preemption is under way."""
        return bool(self._pending)

    def victim_of(self, key: str, uid: str) -> str | None:
        """The preemptor that chose ``key`` as a victim, until the victim's status says so."""
        marked = self._victims.get(key)
        if marked is None or marked[0] != uid or marked[1] not in self._pending:
            return None
        return marked[1]

    def evicted(self, key: str) -> None:
        """The victim's status says Preempted: from now on its phase tells the queue."""
        self._victims.pop(key, None)

    def pending(self, key: str) -> Pending | None:
        return self._pending.get(key)

    def held(self, stopping: Mapping[str, bool]) -> dict[str, frozenset[str]]:
        """Preemptor -> nodes held for it, after dropping the preemptions whose victims all stopped
        (``stopping``: victim key -> whether it still holds GPUs or has workers): if the preemptor
        still does not fit then, it may preempt again."""
        for key, pending in list(self._pending.items()):
            if not any(stopping.get(v, False) for v in pending.victims):
                del self._pending[key]
        return {key: pending.nodes for key, pending in self._pending.items()}

    def choose(
        self,
        gang: Gang,
        nodes: list[Node],
        demand: list[Demand],
        running: list[preemption.Running],
        uids: Mapping[str, str],
    ) -> tuple[str, ...]:
        """Choose and remember the victims for ``gang`` (none already chosen by another preemptor)."""
        taken = {v for pending in self._pending.values() for v in pending.victims}
        victims = preemption.choose(gang, nodes, demand, [r for r in running if r.key not in taken])
        if victims:
            chosen = {r.key: r for r in running}
            held = frozenset(name for v in victims for name in chosen[v].gpus_by_node)
            self._pending[gang.key] = Pending(victims, held)
            for victim in victims:
                self._victims[victim] = (uids.get(victim, ""), gang.key)
        return victims

    def done(self, key: str) -> None:
        """``key`` was admitted or is gone: nothing is held for it any more."""
        self._pending.pop(key, None)
        self._victims.pop(key, None)
