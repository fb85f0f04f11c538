"""Pieces shared by verification and model-server pods: fetching an artifact into a shared volume,
mounting the claim of a pvc:// source, and bounded object names."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlparse

from lepton.builders.security import lepton_container

PVC_ROOT = "/mnt/pvc"
"""Where claims are mounted: pvc://<claim>/<path> is read from <PVC_ROOT>/<claim>/<path>."""
MODEL_DIR = "/var/lib/lepton/model"
"""Where the init container puts the artifact and the server (or verifier) reads it."""
MODEL_VOLUME = "model"
TMP_VOLUME = "tmp"
FETCH_CONTAINER = "fetch"
MAX_NAME = 63


def claim_of(uri: str) -> str | None:
    """The PersistentVolumeClaim a pvc:// URI reads from, else None."""
    parsed = urlparse(uri)
    return (parsed.netloc or None) if parsed.scheme == "pvc" else None


def claim_volume_name(claim: str) -> str:
    return bounded_name("pvc", claim)


def artifact_volumes(uri: str) -> list[dict[str, Any]]:
    """The artifact's emptyDir, a writable /tmp (the root filesystem is read-only), and the
    source claim (read-only) for pvc:// URIs."""
    volumes: list[dict[str, Any]] = [
        {"name": MODEL_VOLUME, "emptyDir": {}},
        {"name": TMP_VOLUME, "emptyDir": {}},
    ]
    claim = claim_of(uri)
    if claim is not None:
        volumes.append(
            {
                "name": claim_volume_name(claim),
                "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
            }
        )
    return volumes


def fetch_container(
    uri: str, image: str, image_pull_policy: str | None = None, env: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Init container copying the artifact at ``uri`` into the model volume (`lepton-serve fetch`);
    file paths and file:// URIs are read inside the container, s3:// needs the image's s3 extra and
    credentials in ``env`` (AWS_* variables, AWS_ENDPOINT_URL) or from the pod's identity."""
    mounts: list[dict[str, Any]] = [
        {"name": MODEL_VOLUME, "mountPath": MODEL_DIR},
        {"name": TMP_VOLUME, "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, not the host's /tmp
    ]
    claim = claim_of(uri)
    if claim is not None:
        mounts.append(
            {"name": claim_volume_name(claim), "mountPath": f"{PVC_ROOT}/{claim}", "readOnly": True}
        )
    container: dict[str, Any] = {
        "name": FETCH_CONTAINER,
        "image": image,
        "command": ["lepton-serve", "fetch", "--source", uri, "--dest", MODEL_DIR, "--pvc-root", PVC_ROOT],
        "volumeMounts": mounts,
        "securityContext": lepton_container(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    if env:
        container["env"] = env
    return container


def model_mounts() -> list[dict[str, Any]]:
    """The main container's view of the fetched artifact (read-only) and its scratch /tmp."""
    return [
        {"name": MODEL_VOLUME, "mountPath": MODEL_DIR, "readOnly": True},
        {"name": TMP_VOLUME, "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, not the host's /tmp
    ]


def bounded_name(base: str, suffix: str, limit: int = MAX_NAME) -> str:
    """``<base>-<suffix>``, or, when that is longer than ``limit``, ``base`` cut short with a hash of
    the whole name in its place, so distinct long names stay distinct and the result is stable."""
    name = f"{base}-{suffix}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = limit - len(suffix) - len(digest) - 2
    return f"{base[:keep].rstrip('-.')}-{digest}-{suffix}"
