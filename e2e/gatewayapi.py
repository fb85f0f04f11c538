"""A real Gateway API implementation on the host: Traefik v3.6.12 (e2e/build-traefik.sh) with its
Gateway API provider, for the tests that route through a Gateway (canary rollouts by HTTPRoute
weights). Started only by the tests that need it (its cold build takes 12-28 min), never by `up`.

Traefik runs like the other components: a process with a pid file in the run dir (so `down` stops
it), its own client identity ``lepton:traefik`` (Traefik's documented Gateway RBAC) and a kubeconfig.
It reads a backend Service's EndpointSlices and sends requests straight to the Ready pod IPs, which
the host reaches on the real node's bridge: no kube-proxy in the path. Gateway API's standard CRDs
are installed at the release Traefik was built against (v1.4.0, from the Go module cache).

``up(..., crd_provider=True)`` also turns on Traefik's Kubernetes CRD provider and installs its CRDs
(traefik.io, from the Traefik source in the Go module cache that the build compiled), for the tests
of shadow traffic: Traefik's Gateway provider has no RequestMirror, and mirrors through a
TraefikService that an HTTPRoute names as a backend (Traefik's kinds are resolved only while that
provider runs).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcluster import pki, procs
from localcluster.config import E2E_DIR, Config
from localcluster.procs import ClusterError, Probe

NAME = "traefik"
USER = "lepton:traefik"
GATEWAY_GROUP = "gateway.networking.k8s.io"
CONTROLLER = "traefik.io/gateway-controller"
CLASS = "lepton-traefik"
ENTRYPOINT = "web"
Kubectl = Callable[..., str]

_READ = ["get", "list", "watch"]
RBAC: list[dict[str, Any]] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": USER},
        # Traefik's documented role for its Gateway provider (kubernetes-gateway-rbac.yml, v3.6).
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["services", "secrets", "configmaps"], "verbs": _READ},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            {
                "apiGroups": [GATEWAY_GROUP],
                "resources": [
                    "gatewayclasses",
                    "gateways",
                    "httproutes",
                    "grpcroutes",
                    "tcproutes",
                    "tlsroutes",
                    "referencegrants",
                    "backendtlspolicies",
                ],
                "verbs": _READ,
            },
            # Its Kubernetes CRD provider (kubernetes-crd-rbac.yml, v3.6): the traefik.io kinds it
            # watches, every one of them, even those no test uses (its informers need them all).
            {
                "apiGroups": ["traefik.io"],
                "resources": [
                    "middlewares",
                    "middlewaretcps",
                    "ingressroutes",
                    "traefikservices",
                    "ingressroutetcps",
                    "ingressrouteudps",
                    "tlsoptions",
                    "tlsstores",
                    "serverstransports",
                    "serverstransporttcps",
                ],
                "verbs": _READ,
            },
            {
                "apiGroups": [GATEWAY_GROUP],
                "resources": [
                    "gatewayclasses/status",
                    "gateways/status",
                    "httproutes/status",
                    "grpcroutes/status",
                    "tcproutes/status",
                    "tlsroutes/status",
                    "referencegrants/status",
                    "backendtlspolicies/status",
                ],
                "verbs": ["update"],
            },
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": USER},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": USER},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    },
]


def _script(*args: str) -> str:
    out = subprocess.run(
        [str(E2E_DIR / "build-traefik.sh"), *args], stdout=subprocess.PIPE, text=True, check=False
    )
    if out.returncode != 0:
        raise ClusterError(f"e2e/build-traefik.sh {' '.join(args)} failed (output above); it needs Go")
    return out.stdout.strip().splitlines()[-1]


def binary() -> str:
    """The pinned Traefik, built into the cache on first use (cached by the hash of its pins)."""
    return _script()


def crd_dir() -> Path:
    return Path(_script("--crds"))


def traefik_crd_file() -> Path:
    """Traefik's own CRDs (traefik.io) as its source at the pinned version ships them, from the Go
    module cache the build filled (`go mod download` finds it there and fetches nothing)."""
    module = E2E_DIR / "tools" / "traefik"
    env = {**os.environ, "GOFLAGS": "-mod=mod"}

    def go(*args: str) -> str:
        out = subprocess.run(["go", *args], cwd=module, capture_output=True, text=True, check=False, env=env)
        if out.returncode != 0:
            raise ClusterError(f"go {' '.join(args)} in {module} failed: {out.stderr.strip()}")
        return out.stdout

    version = go("list", "-m", "-f", "{{.Version}}", "github.com/traefik/traefik/v3").strip()
    found = json.loads(go("mod", "download", "-json", f"github.com/traefik/traefik/v3@{version}"))
    path = (
        Path(found["Dir"]) / "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
    )
    if not path.is_file():
        raise ClusterError(f"no Traefik CRDs at {path}")
    return path


def home(cfg: Config) -> Path:
    return cfg.state_dir / NAME


def running(cfg: Config) -> bool:
    pid = procs.read_pid(cfg.run, NAME)
    return pid is not None and procs.alive(pid)


def argv(cfg: Config, bin_path: str, crd_provider: bool = False) -> list[str]:
    crd = [
        "--providers.kubernetescrd=true",
        # A backend Service without a Ready endpoint (a mirror's pod restarting) would otherwise
        # make its whole TraefikService, and the stable share it carries, fail.
        "--providers.kubernetescrd.allowEmptyServices=true",
        # No Node informer (NodePort load balancing only): nothing cluster-scoped to grant.
        "--providers.kubernetescrd.disableClusterScopeResources=true",
    ]
    return [
        bin_path,
        # The Gateway's listener port must be an entry point's port: Traefik maps one to the other.
        f"--entryPoints.{ENTRYPOINT}.address=127.0.0.1:{cfg.ports.traefik_web}",
        f"--entryPoints.traefik.address=127.0.0.1:{cfg.ports.traefik_admin}",
        "--ping=true",
        "--providers.kubernetesgateway=true",
        *(crd if crd_provider else []),
        "--log.level=INFO",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
    ]


def up(cfg: Config, kubectl: Kubectl, crd_provider: bool = False) -> None:
    """Install Gateway API's CRDs (and Traefik's with ``crd_provider``), then start Traefik (unless
    it runs) and wait until it answers."""
    for crds in (crd_dir(), *([traefik_crd_file()] if crd_provider else [])):
        kubectl("apply", "--server-side", "-f", str(crds))
        kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds))
    if running(cfg):
        return
    procs.require_free({"traefik web": cfg.ports.traefik_web, "traefik admin": cfg.ports.traefik_admin})
    base = home(cfg)
    base.mkdir(parents=True, exist_ok=True)
    pki._sign(cfg.pki, NAME, f"/CN={USER}", pki.CLIENT_EXTENSIONS)
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": RBAC}))
    (base / "kubeconfig").write_text(pki.kubeconfig(cfg.server, cfg.pki, NAME))
    # Traefik takes the external-cluster client from KUBECONFIG (and would take the in-cluster one
    # if KUBERNETES_SERVICE_HOST were set, which it never is on this host).
    env = {"KUBECONFIG": str(base / "kubeconfig")}
    pid = procs.start(cfg.run, cfg.logs, NAME, argv(cfg, binary(), crd_provider), env=env)
    probe = Probe(f"http://127.0.0.1:{cfg.ports.traefik_admin}/ping")
    procs.wait_ready(NAME, probe, pid, cfg.logs, timeout=60)


def down(cfg: Config) -> bool:
    return procs.stop(cfg.run, NAME)


def gateway_objects(cfg: Config, name: str, namespace: str, listener: str = "http") -> list[dict[str, Any]]:
    """A GatewayClass for Traefik and one Gateway with an HTTP listener on Traefik's web entry point,
    taking routes from every namespace."""
    return [
        {
            "apiVersion": f"{GATEWAY_GROUP}/v1",
            "kind": "GatewayClass",
            "metadata": {"name": CLASS},
            "spec": {"controllerName": CONTROLLER},
        },
        {
            "apiVersion": f"{GATEWAY_GROUP}/v1",
            "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "gatewayClassName": CLASS,
                "listeners": [
                    {
                        "name": listener,
                        "protocol": "HTTP",
                        "port": cfg.ports.traefik_web,
                        "allowedRoutes": {"namespaces": {"from": "All"}},
                    }
                ],
            },
        },
    ]


def programmed(gateway: dict[str, Any]) -> bool:
    """Whether Traefik has accepted the Gateway and programmed its listener."""
    conditions = (gateway.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Programmed" and c.get("status") == "True" for c in conditions)


def url(cfg: Config) -> str:
    return f"http://127.0.0.1:{cfg.ports.traefik_web}"
