"""What the least-privilege run needs: a kubeconfig that authenticates as the chart's ServiceAccount
(a TokenRequest token: the Python client and kopf both ignore a kubeconfig's `as:` impersonation, so
an impersonating kubeconfig would silently run as admin), the rules the chart grants, and the
requests the API server's audit log saw from that account."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from support.kube import Kubectl

Grant = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)


def token_kubeconfig(kubectl: Kubectl, admin: str, namespace: str, account: str, path: Path) -> Path:
    token = kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout.strip()
    config = yaml.safe_load(Path(admin).read_text())
    user = f"system:serviceaccount:{namespace}:{account}"
    config["users"] = [{"name": user, "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = user
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def granted(rendered: list[dict[str, Any]]) -> set[Grant]:
    """Every (group, resource, verb) of the rendered ClusterRoles and Roles."""
    grants = set()
    for role in rendered:
        if role["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    grants |= {(group, resource, verb) for verb in rule["verbs"]}
    return grants


def audit_events(log: Path, offset: int, username: str) -> list[dict[str, Any]]:
    """The ResponseComplete events of ``username`` written after byte ``offset``."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    events = [json.loads(line) for line in lines if username in line]
    return [e for e in events if e["user"]["username"] == username and e.get("objectRef")]


def grant_of(event: dict[str, Any]) -> Grant:
    ref = event["objectRef"]
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return ref.get("apiGroup", ""), resource, event["verb"]


def used(events: list[dict[str, Any]]) -> Counter[Grant]:
    return Counter(grant_of(e) for e in events)


def denied(events: list[dict[str, Any]]) -> list[str]:
    """Requests RBAC refused. Other 403s are not about permissions (an Event created in a namespace
    being terminated: NamespaceLifecycle admission), so the authorizer's decision is what counts."""
    return [
        f"{e['verb']} {e['requestURI']}: {e.get('annotations', {}).get('authorization.k8s.io/reason', '')}"
        for e in events
        if e.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid"
    ]
