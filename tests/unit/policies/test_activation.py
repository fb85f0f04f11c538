"""Through zero replicas and back: the activator's place in the request path, as a table."""

from __future__ import annotations

import pytest

from lepton.policies.activation import Activation, activation

CASES = [
    # scenario, scale_to_zero, replicas, version, ready, routed_to_activator, expected
    ("no-scale-to-zero", False, 0, "v1", 0, False, Activation()),
    ("nothing-to-serve-yet", True, 0, None, 0, False, Activation()),
    ("serving", True, 2, "v1", 2, False, Activation(backend_version="v1")),
    # To zero: the servers keep the Service until the activator answers, then it takes over.
    ("to-zero-activator-starting", True, 0, "v1", 1, False, Activation(True, False, "v1", hold=True)),
    ("at-zero-routed", True, 0, "v1", 0, True, Activation(True, True, "v1")),
    ("activating", True, 1, "v1", 0, True, Activation(True, True, "v1", activating=True)),
    ("ready-switch-back", True, 1, "v1", 1, True, Activation(True, False, "v1")),
    ("switched-activator-goes", True, 1, "v1", 1, False, Activation(False, False, "v1")),
    # Replicas exist but none is ready while the Service serves them (a crash, not a cold start):
    # nothing is held; the Degraded condition says so.
    ("degraded-not-activating", True, 2, "v1", 0, False, Activation(backend_version="v1")),
]


@pytest.mark.parametrize(("scenario", "stz", "replicas", "version", "ready", "routed", "expected"), CASES)
def test_activation(scenario, stz, replicas, version, ready, routed, expected):
    got = activation(
        scale_to_zero=stz, replicas=replicas, version=version, ready=ready, routed_to_activator=routed
    )
    assert got == expected, scenario


def test_the_activator_takes_the_service_once_it_answers():
    got = activation(
        scale_to_zero=True, replicas=0, version="v1", ready=1, routed_to_activator=False, activator_ready=True
    )
    assert got == Activation(True, True, "v1", hold=True), "servers stay until the switch is seen"
