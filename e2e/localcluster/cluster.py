"""Bringing the local control plane up and down: etcd, kube-apiserver, controller-manager,
scheduler, KWOK with fake GPU nodes, and optionally Prometheus."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from functools import partial
from pathlib import Path

from realnode import node as realnode

from . import pki, procs, prometheus
from .config import E2E_DIR, Config
from .nodes import node_list
from .procs import ClusterError, Probe

# Start order; stopped in reverse (real nodes, when any, are torn down first by realnode.down).
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "prometheus",
    *realnode.COMPONENTS,
)
STAGES_DIR = Path(__file__).resolve().parent / "stages"


def tools_dir() -> Path:
    """The pinned binaries, built into the cache on first use (see e2e/build-tools.sh)."""
    out = subprocess.run([str(E2E_DIR / "build-tools.sh")], stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise ClusterError("building the control-plane tools failed (output above)")
    return Path(out.stdout.strip().splitlines()[-1])


def running(cfg: Config) -> dict[str, bool]:
    return {
        name: pid is not None and procs.alive(pid)
        for name in COMPONENTS
        if (pid := procs.read_pid(cfg.run, name)) is not None
    }


def apiserver_probe(cfg: Config, path: str = "/readyz") -> Probe:
    return Probe(
        cfg.server + path, ca=cfg.pki / "ca.crt", cert=(cfg.pki / "admin.crt", cfg.pki / "admin.key")
    )


def kubectl(cfg: Config, bin_dir: Path, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        [str(bin_dir / "kubectl"), "--kubeconfig", str(cfg.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def up(cfg: Config) -> None:
    began = time.monotonic()
    state = running(cfg)
    if state and all(state.values()) and apiserver_probe(cfg).ok():
        print(f"local cluster already running; kubeconfig: {cfg.kubeconfig}")
        if cfg.prometheus and "prometheus" not in state:
            _start_prometheus(cfg, tools_dir())
        if realnode.missing(cfg):
            _start_real_nodes(cfg, tools_dir())
        return
    if state:
        print("local cluster partly running (a process died); restarting it")
        down(cfg, quiet=True)

    bin_dir = tools_dir()
    wanted = {
        "etcd client": cfg.ports.etcd_client,
        "etcd peer": cfg.ports.etcd_peer,
        "kube-apiserver": cfg.ports.apiserver,
        "kube-controller-manager": cfg.ports.controller_manager,
        "kube-scheduler": cfg.ports.scheduler,
        "kwok": cfg.ports.kwok,
    }
    if cfg.prometheus:
        wanted["prometheus"] = cfg.ports.prometheus
        prometheus.binary()  # built (or failed) before anything starts
    procs.require_free(wanted)

    shutil.rmtree(cfg.state_dir, ignore_errors=True)
    cfg.state_dir.mkdir(parents=True)
    pki.make_pki(cfg.pki, extra_ips=(cfg.bridge_ip,))
    for stem in ("admin", "controller-manager", "scheduler", "kwok"):
        name = "kubeconfig" if stem == "admin" else f"{stem}.kubeconfig"
        (cfg.state_dir / name).write_text(pki.kubeconfig(cfg.server, cfg.pki, stem))
        (cfg.state_dir / name).chmod(0o600)

    timings: dict[str, float] = {}
    _start(
        cfg,
        "etcd",
        _etcd_argv(cfg, bin_dir),
        Probe(f"http://127.0.0.1:{cfg.ports.etcd_client}/health"),
        timings,
    )
    _start(cfg, "kube-apiserver", _apiserver_argv(cfg, bin_dir), apiserver_probe(cfg), timings, timeout=90)
    started = {
        "kube-controller-manager": (
            _controller_manager_argv(cfg, bin_dir),
            Probe(f"https://127.0.0.1:{cfg.ports.controller_manager}/healthz"),
        ),
        "kube-scheduler": (
            _scheduler_argv(cfg, bin_dir),
            Probe(f"https://127.0.0.1:{cfg.ports.scheduler}/healthz"),
        ),
        "kwok": (_kwok_argv(cfg, bin_dir), Probe(f"http://127.0.0.1:{cfg.ports.kwok}/healthz")),
    }
    pids = {name: procs.start(cfg.run, cfg.logs, name, argv) for name, (argv, _) in started.items()}
    for name, (_, probe) in started.items():
        timings[name] = procs.wait_ready(name, probe, pids[name], cfg.logs, timeout=60)

    # Pods are refused until the ServiceAccount controller made `default`: ready means usable.
    _wait_default_service_account(cfg, bin_dir)
    nodes_began = time.monotonic()
    ensure_nodes(cfg, bin_dir, cfg.gpu_nodes, cfg.gpus_per_node, cfg.cpu_nodes)
    timings["nodes"] = time.monotonic() - nodes_began
    if cfg.prometheus:
        _start_prometheus(cfg, bin_dir)
    if cfg.real_nodes:
        timings.update(_start_real_nodes(cfg, bin_dir))
    total = time.monotonic() - began
    detail = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
    print(f"local cluster up in {total:.1f}s ({detail})")
    print(f"kubeconfig: {cfg.kubeconfig}")
    if cfg.prometheus:
        print(
            f"prometheus: {cfg.prometheus_url} (scrapes pods annotated prometheus.io/scrape; "
            f"file_sd targets in {cfg.prometheus_targets})"
        )


def _start(
    cfg: Config, name: str, argv: list[str], probe: Probe, timings: dict[str, float], timeout: float = 60
) -> None:
    pid = procs.start(cfg.run, cfg.logs, name, argv)
    timings[name] = procs.wait_ready(name, probe, pid, cfg.logs, timeout)


def _start_prometheus(cfg: Config, bin_dir: Path) -> None:
    procs.require_free({"prometheus": cfg.ports.prometheus})
    argv = prometheus.configure(cfg, partial(kubectl, cfg, bin_dir))
    pid = procs.start(cfg.run, cfg.logs, "prometheus", argv)
    procs.wait_ready("prometheus", Probe(cfg.prometheus_url + "/-/ready"), pid, cfg.logs, timeout=60)


def _start_real_nodes(cfg: Config, bin_dir: Path) -> dict[str, float]:
    timings = realnode.up(cfg, bin_dir, partial(kubectl, cfg, bin_dir))
    print(
        f"real nodes: {cfg.real_nodes} on bridge {cfg.bridge} ({cfg.bridge_net}.0/24), DNS {cfg.bridge_ip}, "
        "ClusterIP Services routed by kube-proxy (iptables)"
    )
    return timings


def ensure_nodes(
    cfg: Config, bin_dir: Path, gpu_nodes: int, gpus_per_node: int, cpu_nodes: int, timeout: float = 120
) -> None:
    """Create the fake nodes that do not exist yet and wait until all of them are Ready."""
    wanted = node_list(gpu_nodes, gpus_per_node, cpu_nodes)
    existing = set(kubectl(cfg, bin_dir, "get", "nodes", "-o", "name").split())
    missing = [n for n in wanted if f"node/{n['metadata']['name']}" not in existing]
    if missing:
        kubectl(
            cfg,
            bin_dir,
            "create",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": missing}),
        )
    names = {n["metadata"]["name"] for n in wanted}
    deadline = time.monotonic() + timeout
    not_ready: set[str] = names
    while time.monotonic() < deadline:
        listing = json.loads(kubectl(cfg, bin_dir, "get", "nodes", "-o", "json"))
        ready = {
            item["metadata"]["name"]
            for item in listing["items"]
            for cond in item.get("status", {}).get("conditions", [])
            if cond["type"] == "Ready" and cond["status"] == "True"
        }
        not_ready = names - ready
        if not not_ready:
            return
        time.sleep(0.5)
    raise ClusterError(
        f"{len(not_ready)} fake nodes not Ready after {timeout:g}s (e.g. {sorted(not_ready)[:3]}); "
        f"see {cfg.logs / 'kwok.log'}"
    )


def _wait_default_service_account(cfg: Config, bin_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            subprocess.run(
                [
                    str(bin_dir / "kubectl"),
                    "--kubeconfig",
                    str(cfg.kubeconfig),
                    "get",
                    "serviceaccount",
                    "default",
                    "-n",
                    "default",
                ],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        ):
            return
        time.sleep(0.3)
    raise ClusterError(
        f"ServiceAccount default/default not created after {timeout:g}s; "
        f"see {cfg.logs / 'kube-controller-manager.log'}"
    )


def down(cfg: Config, quiet: bool = False) -> None:
    stopped = realnode.down(cfg)
    # Then what was started beside the cluster with a pid file in its run dir (the demo's operator),
    # before the API server it talks to.
    others = sorted(p.stem for p in cfg.run.glob("*.pid") if p.stem not in COMPONENTS)
    stopped += [name for name in others if procs.stop(cfg.run, name)]
    stopped += [name for name in reversed(COMPONENTS) if procs.stop(cfg.run, name)]
    shutil.rmtree(cfg.state_dir, ignore_errors=True)
    if not quiet:
        print(
            f"local cluster down (stopped: {', '.join(stopped) or 'nothing was running'}; "
            f"removed {cfg.state_dir})"
        )


def status(cfg: Config) -> int:
    state = running(cfg)
    if not state:
        print("local cluster: not running")
        return 1
    for name in COMPONENTS:
        if name in state:
            print(f"{name:<24} {'running' if state[name] else 'DEAD'}")
    healthy = all(state.values()) and apiserver_probe(cfg).ok()
    print(f"apiserver {cfg.server}: {'ready' if healthy else 'NOT READY'}; kubeconfig: {cfg.kubeconfig}")
    return 0 if healthy else 1


def _etcd_argv(cfg: Config, bin_dir: Path) -> list[str]:
    client, peer = f"http://127.0.0.1:{cfg.ports.etcd_client}", f"http://127.0.0.1:{cfg.ports.etcd_peer}"
    return [
        str(bin_dir / "etcd"),
        "--name=lepton",
        f"--data-dir={cfg.state_dir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=lepton={peer}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def _apiserver_argv(cfg: Config, bin_dir: Path) -> list[str]:
    p = cfg.pki
    argv = [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{cfg.ports.etcd_client}",
        # Every address, so pods on the real nodes' bridge reach it at the bridge's own address (through
        # the `kubernetes` Service, see realnode/apiservice.py) as operator pods do in real clusters.
        # Without a certificate the cluster's CA signed, a client gets only what RBAC gives anonymous
        # users (health and version).
        "--bind-address=0.0.0.0",
        "--advertise-address=127.0.0.1",
        f"--secure-port={cfg.ports.apiserver}",
        f"--tls-cert-file={p / 'apiserver.crt'}",
        f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--client-ca-file={p / 'ca.crt'}",
        f"--requestheader-client-ca-file={p / 'ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--service-account-key-file={p / 'sa.pub'}",
        f"--service-account-signing-key-file={p / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--profiling={'true' if cfg.profiling else 'false'}",
        "--event-ttl=1h",
    ]
    # Always an audit log: every request at Metadata with LEPTON_AUDIT=1 (to count requests by user
    # agent), else only service accounts' requests (the operator acting as the chart's account in
    # the least-privilege test), leaving out kube-system's, which the controller manager acts as.
    controllers: dict[str, object] = {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]}
    everyone: dict[str, object] = {"level": "Metadata"}
    accounts: dict[str, object] = {"level": "Metadata", "userGroups": ["system:serviceaccounts"]}
    policy = cfg.state_dir / "audit-policy.json"
    policy.write_text(
        json.dumps(
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                # Once per request (at ResponseComplete).
                "omitStages": ["RequestReceived", "ResponseStarted"],
                "rules": [everyone] if cfg.audit else [controllers, accounts, {"level": "None"}],
            }
        )
    )
    argv += [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={cfg.state_dir / 'audit.log'}",
        "--audit-log-maxsize=0",
    ]
    return argv


def _component_auth(cfg: Config, stem: str) -> list[str]:
    kc = cfg.state_dir / f"{stem}.kubeconfig"
    return [
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
    ]


def _controller_manager_argv(cfg: Config, bin_dir: Path) -> list[str]:
    p = cfg.pki
    return [
        str(bin_dir / "kube-controller-manager"),
        *_component_auth(cfg, "controller-manager"),
        f"--secure-port={cfg.ports.controller_manager}",
        f"--service-account-private-key-file={p / 'sa.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        "--use-service-account-credentials=true",
        "--controllers=*,-nodeipam",
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
    ]


def _scheduler_argv(cfg: Config, bin_dir: Path) -> list[str]:
    return [
        str(bin_dir / "kube-scheduler"),
        *_component_auth(cfg, "scheduler"),
        f"--secure-port={cfg.ports.scheduler}",
    ]


def _kwok_argv(cfg: Config, bin_dir: Path) -> list[str]:
    # KWOK loads only the stages it is given, so ours ship with its defaults (see stages/).
    stages = cfg.state_dir / "kwok-stages.yaml"
    stages.write_text("\n---\n".join(f.read_text() for f in sorted(STAGES_DIR.glob("*.yaml"))))
    return [
        str(bin_dir / "kwok"),
        f"--kubeconfig={cfg.state_dir / 'kwok.kubeconfig'}",
        f"--config={stages}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.240.0.0/16",
        "--node-ip=10.239.0.1",
        "--node-lease-duration-seconds=40",
        f"--server-address=127.0.0.1:{cfg.ports.kwok}",
    ]
