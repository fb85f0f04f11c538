"""The API tokens of a model server: its Secrets mounted as files, and the flags naming them.

The operator never reads a token: the Secrets that ``spec.auth.tokenSecrets`` names are projected
into one read-only volume, a file per entry, and `lepton-serve --token-file` reads them. The kubelet
refreshes projected Secrets when they change (not under subPath, which is why none is used), and the
server re-reads the files every few seconds, so a rotation needs no restart. Environment variables
would show in `kubectl describe` and never change in a running container: no token goes there.
"""

from __future__ import annotations

from typing import Any

from lepton.api.auth import Auth

TOKEN_VOLUME = "api-tokens"  # noqa: S105 - a volume name
TOKEN_DIR = "/var/run/lepton/api-tokens"  # noqa: S105 - a path
TOKEN_FILE_MODE = 0o440
"""Owner root, group the pod's fsGroup (the server's group): readable by the server, by nobody else."""


def token_path(index: int) -> str:
    return f"{TOKEN_DIR}/token-{index}"


def token_volume(auth: Auth) -> dict[str, Any]:
    """One projected volume with a file ``token-<i>`` per entry of ``tokenSecrets``, in order."""
    return {
        "name": TOKEN_VOLUME,
        "projected": {
            "defaultMode": TOKEN_FILE_MODE,
            "sources": [
                {"secret": {"name": ref.name, "items": [{"key": ref.key, "path": f"token-{i}"}]}}
                for i, ref in enumerate(auth.token_secrets)
            ],
        },
    }


def token_mount() -> dict[str, Any]:
    return {"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": True}


def token_args(auth: Auth) -> list[str]:
    """`lepton-serve` flags naming every token file."""
    return [arg for i in range(len(auth.token_secrets)) for arg in ("--token-file", token_path(i))]
