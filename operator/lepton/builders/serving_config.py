"""Operator settings for the serving controllers (environment variables, read once at startup).

| variable | default | meaning |
|---|---|---|
| `LEPTON_VERIFY_IMAGE` | `lepton/server:dev` | image of verification Jobs (runs `lepton-serve --verify`) |
| `LEPTON_VERIFY_POD_ANNOTATIONS` | `{}` | JSON object: annotations added to every verification pod |
| `LEPTON_VERIFY_TOLERATIONS` | `[]` | JSON list of core/v1 Tolerations for verification pods |
| `LEPTON_VERIFY_NODE_SELECTOR` | `{}` | JSON object: nodeSelector of verification pods |
| `LEPTON_VERIFY_DEADLINE_SECONDS` | `900` | activeDeadlineSeconds of a verification Job |
| `LEPTON_VERIFY_TTL_SECONDS` | `3600` | ttlSecondsAfterFinished of a verification Job |
| `LEPTON_POD_ANNOTATION_PREFIXES` | (none) | comma-separated key prefixes (e.g. `sidecar.istio.io/`): |
|   |   | annotations of a ModelVersion or InferenceService with such keys are copied to its pods |
| `LEPTON_CLUSTER_DOMAIN` | `cluster.local` | DNS domain of status.url |
| `LEPTON_PROMETHEUS_URL` | (none) | Prometheus the autoscaler queries when a service names none |
| `LEPTON_ACTIVATION_URL` | (none) | the operator's activation endpoint, as activators reach it |
| `LEPTON_ACTIVATOR_IMAGE` | the service's server image | image of the activator Deployments |

Per object, the annotation `lepton.ai/pod-annotations` (a JSON object) adds annotations to the pods
made for that ModelVersion or InferenceService.

Kept apart from lepton.settings so the builders stay pure: they take a ServingConfig, never the
environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lepton.api.inferenceservice import DEFAULT_SERVER_IMAGE


class ServingConfigError(ValueError):
    """A serving setting has a value the operator cannot use."""


@dataclass(frozen=True)
class ServingConfig:
    verify_image: str = DEFAULT_SERVER_IMAGE
    verify_pod_annotations: Mapping[str, str] = field(default_factory=dict)
    verify_tolerations: tuple[Mapping[str, Any], ...] = ()
    verify_node_selector: Mapping[str, str] = field(default_factory=dict)
    verify_deadline_seconds: int = 900
    verify_ttl_seconds: int = 3600
    pod_annotation_prefixes: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    prometheus_url: str | None = None
    """The autoscaler's Prometheus when spec.autoscaling.prometheusUrl is unset."""
    activation_url: str | None = None
    """Where activators ask for a replica: the operator's activation endpoint (POST)."""
    activator_image: str | None = None
    """Image of activator Deployments; None: the service's own server image."""

    def copied_annotations(self, annotations: Mapping[str, str] | None) -> dict[str, str]:
        """The annotations the pods of an object inherit from it: those with a key prefix of
        LEPTON_POD_ANNOTATION_PREFIXES, and those its `lepton.ai/pod-annotations` names."""
        prefixes = self.pod_annotation_prefixes
        copied = {k: v for k, v in (annotations or {}).items() if prefixes and k.startswith(prefixes)}
        return {**copied, **pod_annotations_of(annotations)[0]}


POD_ANNOTATIONS = "lepton.ai/pod-annotations"
"""An annotation of a ModelVersion or InferenceService: a JSON object of annotations for the pods
made for it (verification pods, model-server pods)."""


def pod_annotations_of(annotations: Mapping[str, str] | None) -> tuple[dict[str, str], str | None]:
    """The pod annotations an object asks for in lepton.ai/pod-annotations, and a message when the
    value is unusable (then none are taken)."""
    raw = (annotations or {}).get(POD_ANNOTATIONS)
    if not raw:
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"annotation {POD_ANNOTATIONS} is not valid JSON ({exc.msg}); ignored"
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return {}, f"annotation {POD_ANNOTATIONS} must be a JSON object of strings; ignored"
    return {str(k): v for k, v in value.items()}, None


def _json(env: Mapping[str, str], name: str, kind: type[Any], default: Any) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ServingConfigError(f"{name} is not valid JSON: {exc.msg}") from None
    if not isinstance(value, kind):
        raise ServingConfigError(f"{name} must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _string_map(env: Mapping[str, str], name: str) -> dict[str, str]:
    value: dict[str, Any] = _json(env, name, dict, {})
    if not all(isinstance(v, str) for v in value.values()):
        raise ServingConfigError(f"{name} must map names to strings")
    return {str(k): str(v) for k, v in value.items()}


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServingConfigError(f"{name}={raw!r} is not a whole number of seconds") from None
    if value < 1:
        raise ServingConfigError(f"{name}={raw!r} must be at least 1")
    return value


def serving_config_from_env(env: Mapping[str, str]) -> ServingConfig:
    """The settings from ``env`` (pass os.environ); ServingConfigError names the bad variable."""
    tolerations: list[Any] = _json(env, "LEPTON_VERIFY_TOLERATIONS", list, [])
    if not all(isinstance(t, dict) for t in tolerations):
        raise ServingConfigError("LEPTON_VERIFY_TOLERATIONS must be a JSON list of objects")
    prefixes = tuple(p.strip() for p in env.get("LEPTON_POD_ANNOTATION_PREFIXES", "").split(",") if p.strip())
    return ServingConfig(
        verify_image=env.get("LEPTON_VERIFY_IMAGE", "").strip() or DEFAULT_SERVER_IMAGE,
        verify_pod_annotations=_string_map(env, "LEPTON_VERIFY_POD_ANNOTATIONS"),
        verify_tolerations=tuple(tolerations),
        verify_node_selector=_string_map(env, "LEPTON_VERIFY_NODE_SELECTOR"),
        verify_deadline_seconds=_seconds(env, "LEPTON_VERIFY_DEADLINE_SECONDS", 900),
        verify_ttl_seconds=_seconds(env, "LEPTON_VERIFY_TTL_SECONDS", 3600),
        pod_annotation_prefixes=prefixes,
        cluster_domain=env.get("LEPTON_CLUSTER_DOMAIN", "").strip() or "cluster.local",
        prometheus_url=_url(env, "LEPTON_PROMETHEUS_URL"),
        activation_url=_url(env, "LEPTON_ACTIVATION_URL"),
        activator_image=env.get("LEPTON_ACTIVATOR_IMAGE", "").strip() or None,
    )


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")):
        raise ServingConfigError(f"{name}={raw!r} must be an http:// or https:// URL")
    return raw.rstrip("/")
