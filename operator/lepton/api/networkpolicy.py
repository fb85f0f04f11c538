"""spec.networkPolicy of an InferenceService: an optional NetworkPolicy that admits to its model
servers only its Gateway's proxies, its activator and Prometheus (builders/networkpolicy.py)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import DnsLabel, LeptonModel, cel, validations

# A label key: an optional DNS subdomain prefix and a name (Kubernetes' qualified name).
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
MAX_LABELS = 16
MAX_NAMESPACES = 16
PROMETHEUS_NAMESPACES = ["monitoring"]
"""Where kube-prometheus-stack's and most Prometheus installations run."""
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
"""What the Prometheus Operator and the prometheus-community chart label Prometheus' pods with."""

_PEER_RULES = [
    cel(
        "!has(self.podLabels) || "
        f"self.podLabels.all(k, k.size() <= 316 && k.matches(r'{LABEL_KEY_PATTERN}'))",
        "networkPolicy podLabels keys must be label keys ([prefix/]name, the name at most 63 characters)",
        field_path=".podLabels",
    ),
]

LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=LABEL_VALUE_PATTERN)]


class Peer(LeptonModel):
    """Pods allowed to connect: those carrying podLabels in the namespaces named."""

    model_config = ConfigDict(json_schema_extra=validations(_PEER_RULES))

    namespaces: Annotated[list[DnsLabel], Field(min_length=1, max_length=MAX_NAMESPACES)] | None = None
    """Namespaces of the pods, by name (matched on their kubernetes.io/metadata.name label)."""
    pod_labels: Annotated[dict[str, LabelValue], Field(max_length=MAX_LABELS)] | None = None
    """Labels the pods must all carry; {} admits every pod of those namespaces."""

    @model_validator(mode="after")
    def _keys(self) -> Peer:
        bad = [k for k in self.pod_labels or {} if len(k) > 316 or not re.match(LABEL_KEY_PATTERN, k)]
        if bad:
            raise ValueError(f"{_PEER_RULES[0].message}: {bad[0]!r}")
        return self


class NetworkPolicy(LeptonModel):
    """A NetworkPolicy selecting the service's model-server pods that admits, on the server port (which
    serves both inference and /metrics), only the Gateway's proxies, the service's activator and
    Prometheus. Egress is not restricted (servers fetch their model). It needs a network plugin that
    enforces NetworkPolicy (Calico, Cilium, ...); without one the object is made and has no effect."""

    enabled: bool = True
    """Make the NetworkPolicy; false (or removing networkPolicy) deletes it."""
    gateway: Peer | None = None
    """The clients: pods of the Gateway implementation that proxies to the service. Unset: every pod of
    the namespace of spec.traffic.gateway (the service's namespace when it names none), where
    implementations such as Istio run a Gateway's proxies; set namespaces for those that run them
    elsewhere (Envoy Gateway: envoy-gateway-system). Without spec.traffic it must be set: the policy
    would admit no client."""
    prometheus: Peer | None = None
    """The Prometheus that scrapes the servers. Unset namespaces: `monitoring`; unset podLabels:
    app.kubernetes.io/name=prometheus (the Prometheus Operator's and the prometheus-community
    chart's pods)."""


NETWORK_POLICY_RULE = cel(
    "!has(self.networkPolicy) || (has(self.networkPolicy.enabled) && !self.networkPolicy.enabled) || "
    "has(self.traffic) || has(self.networkPolicy.gateway)",
    "networkPolicy.gateway must be set when spec.traffic is not: without a Gateway the policy would "
    "admit no client to the model servers",
    field_path=".networkPolicy.gateway",
)
