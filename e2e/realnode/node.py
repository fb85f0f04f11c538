"""Kubelet nodes that run real pods: containerd + runc + CNI bridge per node, a host CoreDNS and a
host kube-proxy for the cluster, all state under the cluster's state dir, every piece undone by
``down``."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from localcluster import pki, procs
from localcluster.config import Config
from localcluster.procs import ClusterError, Probe

from . import dns, host, oci, proxy

MAX_NODES = 2
# The API server's --service-cluster-ip-range (localcluster/cluster.py): pods route it to the host.
SERVICE_RANGE = "10.96.0.0/16"
NODE_LABEL = ("lepton.ai/node-kind", "real")
NODE_TAINT = {"key": "lepton.ai/real-node", "value": "true", "effect": "NoSchedule"}
COMPONENTS = (
    "coredns",
    proxy.NAME,
    *(f"{kind}-real-{i}" for i in range(MAX_NODES) for kind in ("containerd", "kubelet")),
)


def node_name(index: int) -> str:
    return f"lepton-real-{index}"


def node_ip(cfg: Config, index: int) -> str:
    return f"{cfg.bridge_net}.{1 + index}"


def node_dir(cfg: Config, index: int) -> Path:
    return cfg.realnode_dir / node_name(index)


def socket(cfg: Config, index: int) -> Path:
    return node_dir(cfg, index) / "containerd" / "containerd.sock"


def image_root(cfg: Config, index: int) -> Path:
    """containerd's root (images, snapshots) lives in the cache, so images outlive the cluster:
    torch's layers are gigabytes. Containers are removed from it at ``down``."""
    return cfg.cache_dir / "realnode" / f"{cfg.bridge}-{index}" / "containerd"


def cgroup_root(cfg: Config, index: int) -> str:
    return f"/lepton-{cfg.bridge}-{index}"


def pod_range(cfg: Config, index: int) -> tuple[str, str]:
    """Each node hands out its own slice of the bridge's /24 (pods of both share one L2 segment)."""
    size = 112
    first = 16 + index * size
    return f"{cfg.bridge_net}.{first}", f"{cfg.bridge_net}.{first + size - 1}"


def running_nodes(cfg: Config) -> list[int]:
    return [
        i
        for i in range(MAX_NODES)
        if (pid := procs.read_pid(cfg.run, f"kubelet-real-{i}")) is not None and procs.alive(pid)
    ]


def missing(cfg: Config) -> bool:
    """Whether ``up`` has something to start: a wanted node, or kube-proxy beside running nodes (a
    cluster started before kube-proxy was part of it, or whose kube-proxy died)."""
    if cfg.real_nodes > len(running_nodes(cfg)):
        return True
    return cfg.real_nodes > 0 and not proxy.running(cfg)


def up(cfg: Config, bin_dir: Path, kubectl: Callable[..., str]) -> dict[str, float]:
    """Start CoreDNS, the real nodes that are not running yet and kube-proxy; wait until the nodes
    are Ready and kube-proxy has programmed its rules."""
    if not 0 <= cfg.real_nodes <= MAX_NODES:
        raise ClusterError(f"REAL_NODES={cfg.real_nodes}: 0 to {MAX_NODES} real nodes are supported")
    host.check_prerequisites()
    timings: dict[str, float] = {}
    began = time.monotonic()
    have = running_nodes(cfg)
    wanted = [i for i in range(cfg.real_nodes) if i not in have]
    host.bridge_up(cfg.bridge, [node_ip(cfg, i) for i in range(cfg.real_nodes)])
    images = [oci.pause_archive(cfg.cache_dir), oci.busybox_archive(cfg.cache_dir)]
    timings["images"] = time.monotonic() - began
    dns.up(cfg, kubectl)
    timings["coredns"] = time.monotonic() - began - timings["images"]
    for i in wanted:
        step = time.monotonic()
        _start_containerd(cfg, i)
        for archive in images:
            import_image(cfg, i, archive)
        _start_kubelet(cfg, bin_dir, i)
        timings[f"{node_name(i)} start"] = time.monotonic() - step
    step = time.monotonic()
    _wait_ready(cfg, kubectl, [node_name(i) for i in wanted])
    timings["nodes Ready"] = time.monotonic() - step
    step = time.monotonic()
    proxy.up(cfg, bin_dir, node_name(0))
    kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(proxy.api_endpoints(cfg)))
    timings["kube-proxy"] = time.monotonic() - step
    return timings


def down(cfg: Config) -> list[str]:
    """Stop kubelets, kill every pod process, stop containerd, unmount, remove cgroups, netns and
    the bridge. Safe to run when nothing (or only part) is there."""
    if not cfg.realnode_dir.exists() and not any(procs.read_pid(cfg.run, c) for c in COMPONENTS):
        return []  # this cluster never had a real node
    # First, so that no rule points at pods while they go.
    stopped = proxy.down(cfg)
    for i in range(MAX_NODES):
        if procs.stop(cfg.run, f"kubelet-real-{i}"):
            stopped.append(f"kubelet-real-{i}")
        host.kill_cgroup(cgroup_root(cfg, i))
        _remove_containers(cfg, i)
        shims = host.processes_with_arg(str(socket(cfg, i)))
        if procs.stop(cfg.run, f"containerd-real-{i}"):
            stopped.append(f"containerd-real-{i}")
        # Shims outlive containerd; theirs are the ones whose -address is our socket.
        host.kill_all(shims + host.processes_with_arg(str(socket(cfg, i))))
    if procs.stop(cfg.run, "coredns"):
        stopped.append("coredns")
    if cfg.realnode_dir.exists():
        host.unmount_below(cfg.realnode_dir)
    for i in range(MAX_NODES):
        host.remove_cgroup(cgroup_root(cfg, i))
    if host.bridge_down(cfg.bridge):
        stopped.append(f"bridge {cfg.bridge}")
    return stopped


def _remove_containers(cfg: Config, index: int) -> None:
    """Delete every container (pods' and sandboxes') from containerd's persistent store."""
    pid = procs.read_pid(cfg.run, f"containerd-real-{index}")
    if pid is None or not procs.alive(pid):
        return
    ctr = ["ctr", "--address", str(socket(cfg, index)), "-n", "k8s.io"]
    listing = subprocess.run([*ctr, "containers", "ls", "-q"], capture_output=True, text=True, check=False)
    for cid in listing.stdout.split():
        subprocess.run([*ctr, "tasks", "rm", "-f", cid], capture_output=True, check=False)
        subprocess.run([*ctr, "containers", "rm", cid], capture_output=True, check=False)


def import_image(cfg: Config, index: int, archive: Path) -> None:
    out = subprocess.run(
        ["ctr", "--address", str(socket(cfg, index)), "-n", "k8s.io", "images", "import", str(archive)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ClusterError(f"importing {archive} into {node_name(index)} failed: {out.stderr.strip()}")


def _start_containerd(cfg: Config, index: int) -> None:
    base = node_dir(cfg, index) / "containerd"
    cni_conf = base / "net.d"
    cni_conf.mkdir(parents=True, exist_ok=True)
    first, last = pod_range(cfg, index)
    conflist = {
        "cniVersion": "1.0.0",
        "name": f"lepton-{cfg.bridge}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": cfg.bridge,
                # No gateway or masquerade: pods talk to the bridge's /24 and, through the bridge's
                # address, to the Service range (kube-proxy's rules on the host), nothing else.
                "isGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(base / "ipam"),
                    "ranges": [[{"subnet": f"{cfg.bridge_net}.0/24", "rangeStart": first, "rangeEnd": last}]],
                    "routes": [{"dst": SERVICE_RANGE, "gw": cfg.bridge_ip}],
                },
            },
            {"type": "loopback"},
        ],
    }
    (cni_conf / "10-lepton.conflist").write_text(json.dumps(conflist, indent=2))
    config = _containerd_toml(base, image_root(cfg, index), cni_conf)
    (base / "config.toml").write_text(config)
    argv = ["containerd", "--config", str(base / "config.toml")]
    pid = procs.start(cfg.run, cfg.logs, f"containerd-real-{index}", argv)
    _wait(
        f"containerd-real-{index}",
        pid,
        cfg,
        lambda: (
            subprocess.run(
                ["ctr", "--address", str(socket(cfg, index)), "version"], capture_output=True, check=False
            ).returncode
            == 0
        ),
    )


def _toml(value: object) -> str:
    return json.dumps(value)  # TOML basic strings, arrays and booleans are JSON's


def _containerd_toml(base: Path, root: Path, cni_conf: Path) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    snapshotters = ("aufs", "btrfs", "devmapper", "zfs", "native", "blockfile")
    disabled = [f"io.containerd.snapshotter.v1.{s}" for s in snapshotters] + [
        "io.containerd.tracing.processor.v1.otlp",
        "io.containerd.internal.v1.tracing",
    ]
    lines = [
        "version = 2",
        f"root = {_toml(str(root))}",
        f"state = {_toml(str(base / 'state'))}",
        f"disabled_plugins = {_toml(disabled)}",
        "[grpc]",
        f"  address = {_toml(str(base / 'containerd.sock'))}",
        "[ttrpc]",
        '  address = ""',
        "[debug]",
        '  level = "warn"',
        "[metrics]",
        '  address = ""',
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_toml(str(base / 'opt'))}",
        f"[{cri}]",
        f"  sandbox_image = {_toml(oci.PAUSE_IMAGE)}",
        # Root here may lack CAP_SYS_RESOURCE: runc then fails every sandbox on oom_score_adj -998.
        "  restrict_oom_score_adj = true",
        "  netns_mounts_under_state_dir = true",
        "  enable_selinux = false",
        '  stream_server_address = "127.0.0.1"',
        f"[{cri}.containerd]",
        '  snapshotter = "overlayfs"',
        '  default_runtime_name = "runc"',
        f"[{cri}.containerd.runtimes.runc]",
        '  runtime_type = "io.containerd.runc.v2"',
        f"[{cri}.containerd.runtimes.runc.options]",
        "  SystemdCgroup = false",
        f"  Root = {_toml(str(base / 'runc'))}",
        f"[{cri}.cni]",
        f"  bin_dir = {_toml(str(host.CNI_DIR))}",
        f"  conf_dir = {_toml(str(cni_conf))}",
        "  max_conf_num = 1",
    ]
    return "\n".join(lines) + "\n"


def _start_kubelet(cfg: Config, bin_dir: Path, index: int) -> None:
    name = node_name(index)
    base = node_dir(cfg, index) / "kubelet"
    base.mkdir(parents=True, exist_ok=True)
    stem = f"kubelet-{name}"
    # The cluster's CA signs this node's identity like the control plane's.
    pki._sign(cfg.pki, stem, f"/CN=system:node:{name}/O=system:nodes", pki.CLIENT_EXTENSIONS)
    (base / "kubeconfig").write_text(pki.kubeconfig(cfg.server, cfg.pki, stem))
    host.make_cgroup(cgroup_root(cfg, index))
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This machine mounts cgroup v1, which kubelet 1.35 refuses unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root(cfg, index),
        "containerRuntimeEndpoint": f"unix://{socket(cfg, index)}",
        "address": node_ip(cfg, index),
        "port": 10250,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": cfg.ports.kubelet_healthz + index,
        "readOnlyPort": 0,
        "authentication": {
            "x509": {"clientCAFile": str(cfg.pki / "ca.crt")},
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [cfg.bridge_ip],
        "clusterDomain": "cluster.local",
        "resolvConf": "",
        "failSwapOn": False,
        "enforceNodeAllocatable": [],
        "evictionHard": {},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "podLogsDir": str(base / "pod-logs"),
        "registerWithTaints": [NODE_TAINT],
        "serializeImagePulls": False,
        "maxPods": 110,
    }
    (base / "config.json").write_text(json.dumps(config, indent=2))
    argv = [
        str(bin_dir / "kubelet"),
        f"--config={base / 'config.json'}",
        f"--kubeconfig={base / 'kubeconfig'}",
        f"--root-dir={base / 'root'}",
        f"--cert-dir={base / 'pki'}",
        f"--hostname-override={name}",
        f"--node-ip={node_ip(cfg, index)}",
        f"--node-labels={NODE_LABEL[0]}={NODE_LABEL[1]}",
        "--v=1",
    ]
    pid = procs.start(cfg.run, cfg.logs, f"kubelet-real-{index}", argv)
    probe = Probe(f"http://127.0.0.1:{cfg.ports.kubelet_healthz + index}/healthz")
    procs.wait_ready(f"kubelet-real-{index}", probe, pid, cfg.logs, timeout=90)


def stop_kubelet(cfg: Config, index: int) -> bool:
    """Stop one node's kubelet alone (the chaos suite's fault): containerd and the pods' processes keep
    running, as when a kubelet crashes or is restarted on a real node. Returns whether it ran."""
    return procs.stop(cfg.run, f"kubelet-real-{index}")


def start_kubelet(cfg: Config, bin_dir: Path, index: int) -> None:
    """Start a stopped kubelet again with the same configuration and state, and wait for its health."""
    _start_kubelet(cfg, bin_dir, index)


def _wait(name: str, pid: int, cfg: Config, ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not procs.alive(pid):
            raise ClusterError(f"{name} exited during start-up:\n{procs.tail(cfg.logs / (name + '.log'))}")
        time.sleep(0.2)
    raise ClusterError(f"{name} not ready after {timeout:g}s:\n{procs.tail(cfg.logs / (name + '.log'))}")


def _wait_ready(cfg: Config, kubectl: Callable[..., str], names: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            try:
                node = json.loads(kubectl("get", "node", name, "-o", "json"))
            except ClusterError:
                continue
            conditions = {c["type"]: c for c in node.get("status", {}).get("conditions", [])}
            if conditions.get("Ready", {}).get("status") == "True":
                pending.discard(name)
        time.sleep(0.5)
    if pending:
        logs = ", ".join(str(cfg.logs / f"kubelet-real-{n.rsplit('-', 1)[1]}.log") for n in sorted(pending))
        raise ClusterError(f"real nodes {sorted(pending)} not Ready after {timeout:g}s; see {logs}")
