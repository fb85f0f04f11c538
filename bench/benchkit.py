"""Pieces the operator benchmarks share: a cluster of their own, the operator as a process, the
audit log read by user agent. Imported by bench_trainingjob.py and bench_soak.py (run as scripts
from any directory: they put bench/, e2e/ and operator/ on sys.path themselves)."""

from __future__ import annotations

import calendar
import collections
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from kubernetes import client

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "e2e"))
sys.path.insert(0, str(REPO / "tests"))

from localcluster import cluster  # noqa: E402
from localcluster.config import Config, Ports  # noqa: E402
from localcluster.procs import command_lines  # noqa: E402
from support.ports import free_port  # noqa: E402


def cluster_env(state_dir: str, port_offset: int, **settings: str) -> dict[str, str]:
    """The environment of a benchmark's own cluster: its state dir and every port moved by
    ``port_offset``, so the default cluster and the tests' are left alone; ``settings`` are the
    localcluster variables (GPU_NODES, PROMETHEUS, LEPTON_AUDIT, ...)."""
    env = {"LEPTON_CLUSTER_DIR": state_dir, **settings}
    for name in Ports.__dataclass_fields__:
        env[f"LEPTON_PORT_{name.upper()}"] = str(getattr(Ports(), name) + port_offset)
    return env


class Operator:
    """``python -m lepton`` against the benchmark's cluster, its log appended to ``log``; ready once
    its metrics say it watches. ``env`` overrides its settings (LEPTON_*)."""

    def __init__(self, kubeconfig: Path, log: Path, env: Mapping[str, str] | None = None) -> None:
        self.metrics = free_port()
        self.log = log
        full = {
            **os.environ,
            "LEPTON_KUBECONFIG": str(kubeconfig),
            "LEPTON_METRICS_HOST": "127.0.0.1",
            "LEPTON_METRICS_PORT": str(self.metrics),
            "LEPTON_HEALTH_PORT": "0",
            "LEPTON_ACTIVATION_PORT": "0",
            "LEPTON_LOG_FORMAT": "text",
            "LEPTON_LOG_LEVEL": "warning",
            **(env or {}),
        }
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lepton"], env=full, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"operator exited; see {log}")
            try:
                if "lepton_operator_watching 1.0" in self.metrics_text(timeout=2):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit("operator not ready after 120s")

    def metrics_text(self, timeout: float = 10) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=timeout) as rsp:
            return str(rsp.read().decode())

    def cpu_s(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    def wait_idle(self, timeout: float = 180) -> None:
        """Until the operator has worked through the initial listings (its CPU use drops), so the
        jobs do not queue behind a thousand nodes' first events, whatever its readiness says."""
        deadline, quiet, last = time.monotonic() + timeout, 0, self.cpu_s()
        while quiet < 3 and time.monotonic() < deadline:
            time.sleep(1)
            now = self.cpu_s()
            quiet = quiet + 1 if now - last < 0.1 else 0
            last = now

    def proc_status(self) -> dict[str, int]:
        """The kB and count fields of /proc/<pid>/status (VmRSS, VmHWM, Threads, ...)."""
        found = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                found[key] = int(parts[0])
        return found

    def peak_rss_mib(self) -> float:
        return self.proc_status().get("VmHWM", 0) / 1024 or float("nan")

    def reconciles(self) -> dict[str, float]:
        """How many reconciles ran and how long they took in all (the operator's own metrics)."""
        found = {}
        for line in self.metrics_text().splitlines():
            for suffix in ("count", "sum"):
                if line.startswith(f"lepton_operator_reconcile_duration_seconds_{suffix} "):
                    found[suffix] = float(line.split()[1])
        return {"reconciles": found.get("count", 0.0), "reconcile_s": round(found.get("sum", 0.0), 1)}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def tear_down(cfg: Config, operator: Operator | None, keep: bool) -> None:
    """The end of every bench run: the operator stopped, the cluster down unless it is kept."""
    if operator is not None:
        operator.stop()
    if not keep:
        cluster.down(cfg, quiet=True)


def cluster_processes(cfg: Config) -> Iterator[tuple[Path, str]]:
    """The /proc entry and program name of each process started for the benchmark's cluster (its
    command line names the cluster's state dir)."""
    state = str(cfg.state_dir).encode()
    for proc, argv in command_lines():
        if any(state in arg for arg in argv):
            yield proc, Path(argv[0].decode(errors="replace")).name


def cpu_seconds(cfg: Config, operator_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the operator and by each process of the benchmark's cluster: on a
    small machine they all share the same cores, so the operator's CPU is taken from the scheduler."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = collections.defaultdict(float)
    procs = [(proc, name) for proc, name in cluster_processes(cfg) if proc.name != str(operator_pid)]
    if operator_pid > 0:
        procs.append((Path(f"/proc/{operator_pid}"), "operator"))
    for proc, name in procs:
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[name] += (int(fields[11]) + int(fields[12])) / tick
    return dict(used)


CONTROL_PLANE = frozenset({"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"})


def split_cpus(cfg: Config, control_plane: set[int], rest: set[int]) -> dict[str, list[int]]:
    """Pin the cluster's control plane to ``control_plane`` and everything else of the benchmark
    (KWOK's kubelets, Prometheus, this process and so the operators it starts) to ``rest``, as on a
    real cluster, where the operator runs on a node and not beside the API server. Every thread of
    each process is pinned (a Go process's threads each have their own affinity)."""
    pinned: dict[str, list[int]] = collections.defaultdict(list)
    for proc, name in cluster_processes(cfg):
        cpus = control_plane if name in CONTROL_PLANE else rest
        with contextlib.suppress(OSError):  # a process or thread that just ended
            for task in (proc / "task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), cpus)
        pinned[name].append(int(proc.name))
    os.sched_setaffinity(0, rest)  # threads and processes started from here on inherit it
    return dict(pinned)


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 1) for name in sorted(after)}


def install_crds(cfg: Config) -> None:
    """Apply the project's CRDs to the benchmark's cluster and wait until they are served."""
    from localcluster import cluster

    kubectl = [str(cluster.tools_dir() / "kubectl"), "--kubeconfig", str(cfg.kubeconfig)]
    crds = str(REPO / "crds")
    subprocess.run([*kubectl, "apply", "--server-side", "-f", crds], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "-f", crds], check=True, capture_output=True
    )


def make_namespace(api: client.ApiClient, name: str) -> None:
    """Create a namespace and wait for its default ServiceAccount (pods are refused until then)."""
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    deadline = time.monotonic() + 60
    while not core.list_namespaced_service_account(name, field_selector="metadata.name=default").items:
        if time.monotonic() > deadline:
            raise SystemExit(f"no default ServiceAccount in {name}")
        time.sleep(0.2)


def audited_requests(path: Path, agents: Mapping[str, str]) -> Iterator[tuple[float, str]]:
    """(epoch second received, "family verb resource[/subresource]") of each request whose user agent
    starts with a key of ``agents`` (the family is its value), from the audit log at ``path`` and the
    files the API server rotated it into (audit-<time>.log beside it, oldest first)."""
    rotated = sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))
    for each in [*rotated, path]:
        if not each.exists():
            continue
        with each.open() as lines:
            for line in lines:
                event = json.loads(line)
                agent = event.get("userAgent", "")
                family = next((name for prefix, name in agents.items() if agent.startswith(prefix)), None)
                if family is None:
                    continue
                stamp = calendar.timegm(
                    time.strptime(event["requestReceivedTimestamp"][:19], "%Y-%m-%dT%H:%M:%S")
                )
                ref = event.get("objectRef", {})
                resource = ref.get("resource", "") + (
                    "/" + ref["subresource"] if ref.get("subresource") else ""
                )
                yield stamp, f"{family} {event['verb']} {resource}"


OPERATOR_AGENTS = {"lepton-operator": "lepton", "kopf": "kopf"}


def operator_requests(path: Path) -> Iterator[tuple[float, str]]:
    """The requests the operator made, family "lepton" (its own client) or "kopf" (the framework's
    watches and patches)."""
    return audited_requests(path, OPERATOR_AGENTS)


def audit_count(
    path: Path, since: float, until: float, agents: Mapping[str, str] = OPERATOR_AGENTS
) -> collections.Counter[str]:
    """Requests by (user agent family, verb, resource) between two times, from the audit log."""
    return collections.Counter(
        what for stamp, what in audited_requests(path, agents) if since - 1 <= stamp <= until + 1
    )
