"""Two operator replicas with kopf peering: exactly one acts, and when it dies (SIGKILL) the standby
takes over within the peering lifetime, without duplicate children or a lost update."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tjkit import Jobs, manifest

from support.operator import Operator
from support.wait import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
PEERING_CRDS = REPO / "charts" / "lepton" / "charts" / "kopf-peering" / "crds"
LIFETIME_SECONDS = 10
FAILOVER_GOAL_SECONDS = 15


class Standby(Operator):
    """A replica that starts paused (kopf starts every peer paused and resumes only the one of the
    highest priority): ready once its peering record is next to the active one's."""

    def __init__(self, *args: Any, peers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peers = peers

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited with {self.process.returncode}:\n{self.tail()}")
        return len(self.peers()) == 2


def reconciles(op: Operator) -> float:
    for line in op.metrics().splitlines():
        if line.startswith("lepton_operator_reconcile_duration_seconds_count "):
            return float(line.split()[1])
    return 0.0


@pytest.fixture
def peering(kubectl: Any, crds: None) -> Iterator[str]:
    name = f"lepton-ha-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "--server-side", "-f", str(PEERING_CRDS))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(PEERING_CRDS))
    kubectl(
        "create",
        "-f",
        "-",
        input=f"apiVersion: kopf.dev/v1\nkind: ClusterKopfPeering\nmetadata:\n  name: {name}\n",
    )
    yield name
    kubectl("delete", "clusterkopfpeering", name, "--ignore-not-found")


@pytest.fixture
def replicas(
    kubeconfig: str, kubectl: Any, peering: str, tmp_path: Path
) -> Iterator[tuple[Operator, Operator]]:
    def peers() -> dict[str, Any]:
        body = json.loads(kubectl("get", "clusterkopfpeering", peering, "-o", "json").stdout)
        return dict(body.get("status") or {})

    env = {"LEPTON_PEERING": peering, "LEPTON_PEERING_LIFETIME_SECONDS": str(LIFETIME_SECONDS)}
    active = Operator(kubeconfig, tmp_path / "active.log", {**env, "LEPTON_POD_NAME": "lepton-a"})
    standby = Standby(
        kubeconfig, tmp_path / "standby.log", {**env, "LEPTON_POD_NAME": "lepton-b"}, peers=peers
    )
    # Priorities come from the pod names (settings.py); the test makes "a" the active one.
    active.env["LEPTON_PEERING_PRIORITY"], standby.env["LEPTON_PEERING_PRIORITY"] = "200", "100"
    try:
        active.start()
        standby.start()
        yield active, standby
    finally:
        active.kill()
        standby.stop()


def test_one_replica_acts_and_the_standby_takes_over_when_it_dies(kube, namespace, replicas):
    active, standby = replicas
    jobs = Jobs(kube, namespace)
    jobs.create(manifest("before", replicas=2))
    wait_for(lambda: jobs.phase("before") in ("Admitted", "Running"), 30, "the active replica to admit a job")
    wait_for(lambda: len(jobs.live_pods("before")) == 2, 30, "the job's two workers")
    assert reconciles(active) > 0
    assert reconciles(standby) == 0, "the paused replica reconciled: two controllers act"

    active.kill()
    killed = time.monotonic()
    # Changes made while no replica acts: a new job, and an update to the old one.
    jobs.create(manifest("after", replicas=2))
    jobs.patch_spec("before", {"runPolicy": {"suspend": True}})
    wait_for(
        lambda: jobs.phase("after") in ("Admitted", "Running"),
        timeout=60,
        what="the standby to admit the job created after the failover",
        seen=lambda: (jobs.status("after"), standby.tail(5)),
    )
    failover = time.monotonic() - killed
    wait_for(lambda: jobs.phase("before") == "Suspended", 30, "the update made during the failover applied")
    wait_for(lambda: len(jobs.live_pods("after")) == 2, 30, "the new job's two workers")
    assert [p.metadata.name for p in jobs.pods("after")] == ["after-worker-0", "after-worker-1"]
    assert "Resuming operations after the pause" in standby.tail(400)
    print(f"failover: {failover:.1f} s (peering lifetime {LIFETIME_SECONDS} s)")
    assert failover <= FAILOVER_GOAL_SECONDS, f"failover took {failover:.1f} s"
