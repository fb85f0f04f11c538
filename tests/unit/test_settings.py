"""Operator settings: environment variables, flags over them, and bad values refused before the
operator touches the cluster."""

from __future__ import annotations

import pytest

from lepton.settings import SettingsError, from_env, parse

SETTINGS_CASES = [
    ({}, {"namespaces": (), "metrics_port": 8080, "log_format": "json"}),
    ({"LEPTON_NAMESPACES": "a, b"}, {"namespaces": ("a", "b")}),
    ({"LEPTON_NAMESPACE": "*"}, {"namespaces": ()}),
    (
        {"LEPTON_METRICS_PORT": "9999", "LEPTON_LOG_FORMAT": "text"},
        {"metrics_port": 9999, "log_format": "text"},
    ),
]


@pytest.mark.parametrize(("env", "expected"), SETTINGS_CASES, ids=["defaults", "namespaces", "star", "ports"])
def test_settings_from_env(env, expected):
    settings = from_env(env)
    assert {k: getattr(settings, k) for k in expected} == expected


def test_flags_override_env_and_bad_values_are_refused():
    settings = parse(["-n", "x", "--metrics-port", "1234"], env={"LEPTON_NAMESPACES": "y"})
    assert (settings.namespaces, settings.metrics_port) == (("x",), 1234)
    with pytest.raises(SettingsError, match="LEPTON_RESYNC_SECONDS"):
        from_env({"LEPTON_RESYNC_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="log format"):
        from_env({"LEPTON_LOG_FORMAT": "xml"})


def test_peering_priority_differs_per_pod_and_can_be_set():
    a = from_env({"LEPTON_POD_NAME": "lepton-operator-7d9f-abcde"}, started=1_800_000_000.0)
    b = from_env({"LEPTON_POD_NAME": "lepton-operator-7d9f-fghij"}, started=1_800_000_000.0)
    assert a.peering_priority != b.peering_priority, "peers of equal priority pause each other"
    assert from_env({"LEPTON_PEERING_PRIORITY": "7", "LEPTON_POD_NAME": "x"}).peering_priority == 7
    assert from_env({}).peering_priority == 0


def test_the_longest_running_replica_leads_and_a_restarted_one_stands_by():
    standby = from_env({"LEPTON_POD_NAME": "lepton-operator-7d9f-fghij"}, started=1_800_000_000.0)
    # The leader's container crashed and restarted a second later, under the same pod name.
    restarted = from_env({"LEPTON_POD_NAME": "lepton-operator-7d9f-abcde"}, started=1_800_000_001.0)
    assert standby.peering_priority > restarted.peering_priority
    assert 0 < restarted.peering_priority < 2**63, "kopf stores it as a 64-bit integer"


def test_bad_serving_settings_are_refused_with_the_rest():
    with pytest.raises(SettingsError, match="LEPTON_VERIFY_TOLERATIONS"):
        from_env({"LEPTON_VERIFY_TOLERATIONS": "{not json"})


def test_gpu_fault_settings():
    defaults = from_env({})
    assert "GpuUnhealthy" in defaults.gpu_fault_conditions
    assert defaults.hardware_exit_codes == frozenset()
    custom = from_env(
        {
            "LEPTON_GPU_FAULT_CONDITIONS": "XidError, NVLinkDown,XidError",
            "LEPTON_HARDWARE_EXIT_CODES": "74, 201",
        }
    )
    assert custom.gpu_fault_conditions == ("XidError", "NVLinkDown")
    assert custom.hardware_exit_codes == frozenset({74, 201})
    assert from_env({"LEPTON_GPU_FAULT_CONDITIONS": ""}).gpu_fault_conditions == (), "empty turns it off"
    with pytest.raises(SettingsError, match="LEPTON_HARDWARE_EXIT_CODES"):
        from_env({"LEPTON_HARDWARE_EXIT_CODES": "xid"})
    with pytest.raises(SettingsError, match="1 to 255"):
        from_env({"LEPTON_HARDWARE_EXIT_CODES": "0"})
