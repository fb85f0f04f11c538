"""Reading a kubeconfig (or the in-cluster service account) without the `kubernetes` package.

The `lepton` command and the Python client use this instead of `kubernetes.config`: importing the
`kubernetes` package takes about 0.6 s, more than the whole start-up budget of `lepton get`. What
is supported is what kubeconfigs in the wild use: client certificates and keys (files or data),
bearer tokens (inline or tokenFile), basic auth, certificate authorities, insecure-skip-tls-verify,
and exec credential plugins (EKS, GKE, AKS, OIDC login helpers).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeconfigError(Exception):
    """No usable kubeconfig; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    """How to reach and authenticate to one API server."""

    server: str
    namespace: str = "default"
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    source: str = ""
    """Where these came from (a kubeconfig path and context, or "in-cluster"), for error messages."""

    def bearer(self) -> str | None:
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        return self.token


def kubeconfig_paths(explicit: str | None, env: Mapping[str, str]) -> list[Path]:
    """--kubeconfig, else every file of $KUBECONFIG (colon-separated), else ~/.kube/config."""
    if explicit:
        return [Path(explicit).expanduser()]
    listed = [Path(p).expanduser() for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return listed
    return [Path(env.get("HOME", str(Path.home()))) / ".kube" / "config"]


def merge(configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """kubectl's merge: for clusters, users and contexts the first file naming one wins, and so
    does the first current-context set."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": [], "current-context": ""}
    for config in configs:
        for section in ("clusters", "users", "contexts"):
            known = {entry.get("name") for entry in merged[section]}
            merged[section] += [e for e in config.get(section) or [] if e.get("name") not in known]
        if not merged["current-context"]:
            merged["current-context"] = config.get("current-context") or ""
    return merged


def _named(config: Mapping[str, Any], section: str, name: str, what: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return dict(entry.get(what) or {})
    raise KubeconfigError(f"the kubeconfig has no {what} named {name!r} (sections: {section})")


def _decoded(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None


def _relative(path: str | None, base: Path) -> str | None:
    """Paths in a kubeconfig are relative to the file that holds them."""
    if not path:
        return None
    return str((base / Path(path).expanduser()).resolve())


def credentials(
    config: Mapping[str, Any], base: Path, context: str | None = None, source: str = ""
) -> Credentials:
    """The credentials of ``context`` (default: current-context) of a parsed, merged kubeconfig."""
    name = context or config.get("current-context") or ""
    if not name:
        raise KubeconfigError(
            f"{source or 'the kubeconfig'} sets no current-context; pass --context or run "
            "`kubectl config use-context NAME`"
        )
    ctx = _named(config, "contexts", name, "context")
    cluster = _named(config, "clusters", ctx.get("cluster", ""), "cluster")
    user = _named(config, "users", ctx.get("user", ""), "user") if ctx.get("user") else {}
    if not cluster.get("server"):
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} in {source} has no server URL")
    exec_status = run_exec(user["exec"]) if user.get("exec") else {}
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        ca_file=_relative(cluster.get("certificate-authority"), base),
        ca_data=_decoded(cluster.get("certificate-authority-data")),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        cert_file=_relative(user.get("client-certificate"), base),
        key_file=_relative(user.get("client-key"), base),
        cert_data=_decoded(user.get("client-certificate-data"))
        or (exec_status.get("clientCertificateData", "").encode() or None),
        key_data=_decoded(user.get("client-key-data"))
        or (exec_status.get("clientKeyData", "").encode() or None),
        token=user.get("token") or exec_status.get("token"),
        token_file=_relative(user.get("tokenFile"), base),
        username=user.get("username"),
        password=user.get("password"),
        source=f"{source} (context {name})",
    )


def run_exec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run an exec credential plugin (client.authentication.k8s.io) and return its status."""
    command = [str(spec.get("command", "")), *[str(a) for a in spec.get("args") or []]]
    env = {**os.environ, **{str(e["name"]): str(e["value"]) for e in spec.get("env") or []}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": spec.get("apiVersion"), "kind": "ExecCredential", "spec": {"interactive": False}}
    )
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        hint = spec.get("installHint") or f"install {command[0]!r} or fix the kubeconfig's exec section"
        raise KubeconfigError(f"the credential plugin {command[0]!r} could not run ({exc}); {hint}") from None
    if done.returncode != 0:
        raise KubeconfigError(
            f"the credential plugin {command[0]!r} failed with {done.returncode}: {done.stderr.strip()[:400]}"
        )
    return dict(json.loads(done.stdout).get("status") or {})


def in_cluster(env: Mapping[str, str], root: Path = SERVICE_ACCOUNT) -> Credentials | None:
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not (root / "token").exists():
        return None
    namespace = (root / "namespace").read_text().strip() if (root / "namespace").exists() else "default"
    host = f"[{host}]" if ":" in host else host
    return Credentials(
        server=f"https://{host}:{port}",
        namespace=namespace,
        ca_file=str(root / "ca.crt"),
        token_file=str(root / "token"),
        source="in-cluster service account",
    )


def load(
    kubeconfig: str | None = None, context: str | None = None, env: Mapping[str, str] | None = None
) -> Credentials:
    """Credentials from a kubeconfig (kubectl's search order), else the in-cluster service account."""
    import yaml  # noqa: PLC0415 - 0.1 s, only when a command talks to a cluster

    env = os.environ if env is None else env
    paths = kubeconfig_paths(kubeconfig, env)
    existing = [p for p in paths if p.is_file()]
    if not existing:
        inside = None if kubeconfig or env.get("KUBECONFIG") else in_cluster(env)
        if inside is not None:
            return inside
        raise KubeconfigError(
            f"no kubeconfig at {', '.join(map(str, paths))}: set KUBECONFIG or pass --kubeconfig "
            "(for the local cluster: `export KUBECONFIG=$(make -s kubeconfig)`)"
        )
    try:
        configs = [yaml.safe_load(p.read_text()) or {} for p in existing]
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"the kubeconfig is not valid YAML: {exc}") from None
    return credentials(merge(configs), existing[0].parent, context, source=str(existing[0]))
