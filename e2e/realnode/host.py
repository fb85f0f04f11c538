"""What a real node needs from this machine and what it changes on it: prerequisites, the bridge,
cgroups, mounts and stray processes, each undone by ``down``."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from localcluster.procs import ClusterError, command_lines

CNI_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback")
CGROUP = Path("/sys/fs/cgroup")
# Bits of CapEff: the kernel's capability numbers.
CAPABILITIES = {"CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21, "CAP_SYS_CHROOT": 18, "CAP_MKNOD": 27}


def check_prerequisites() -> None:
    """Fail with one message naming everything a real node lacks on this machine."""
    missing: list[str] = []
    if os.geteuid() != 0:
        missing.append("root (a kubelet node mounts, makes network namespaces and a bridge: run as root)")
    tools = (
        ("containerd", "containerd"),
        ("runc", "runc"),
        ("ctr", "containerd"),
        ("ip", "iproute2"),
        ("iptables-restore", "iptables"),  # kube-proxy
    )
    for tool, package in tools:
        if shutil.which(tool) is None:
            missing.append(f"{tool} (Debian package {package})")
    absent = [p for p in CNI_PLUGINS if not (CNI_DIR / p).exists()]
    if absent:
        missing.append(
            f"CNI plugins {', '.join(absent)} in {CNI_DIR} (Debian package containernetworking-plugins)"
        )
    if "overlay" not in Path("/proc/filesystems").read_text():
        missing.append("the overlay filesystem (modprobe overlay; containerd's snapshotter needs it)")
    if not (CGROUP / "cgroup.controllers").exists() and not (CGROUP / "memory").is_dir():
        missing.append(f"cgroups: neither cgroup v2 nor the v1 memory controller is mounted under {CGROUP}")
    effective = _effective_capabilities()
    lacking = [name for name, bit in CAPABILITIES.items() if not effective >> bit & 1]
    if lacking:
        missing.append(f"capabilities {', '.join(lacking)}")
    if not Path("/dev/net/tun").exists() and not Path("/proc/sys/net/ipv4").exists():
        missing.append("IPv4 networking in /proc/sys/net/ipv4")
    if missing:
        raise ClusterError(
            "a real node (REAL_NODES>0) cannot run on this machine; missing: "
            + "; ".join(missing)
            + ". `make setup` installs the Debian packages."
        )


def _effective_capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise ClusterError(f"ip {' '.join(args)} failed: {out.stderr.strip()}")
    return out


def bridge_up(name: str, addresses: list[str]) -> None:
    """The bridge pods attach to; its addresses are the nodes' IPs (loopback ones are refused)."""
    if _ip("link", "show", name, check=False).returncode != 0:
        _ip("link", "add", name, "type", "bridge")
    have = _ip("-o", "-4", "addr", "show", "dev", name).stdout
    for address in addresses:
        if f" {address}/" not in have:
            _ip("addr", "add", f"{address}/24", "dev", name)
    _ip("link", "set", name, "up")
    # Pods reach ClusterIP Services through the bridge's address, where kube-proxy's rules DNAT them
    # to an endpoint, often another pod on this bridge: the host must forward what arrives on the
    # bridge. Only on the bridge (the host's own ip_forward stays as it is), and gone with it.
    Path(f"/proc/sys/net/ipv4/conf/{name}/forwarding").write_text("1\n")


def bridge_down(name: str) -> bool:
    if _ip("link", "show", name, check=False).returncode != 0:
        return False
    _ip("link", "delete", name, check=False)
    return True


def cgroup_dirs(root: str) -> list[Path]:
    """The directories of cgroup ``root`` in every hierarchy (one for v2, one per controller for v1)."""
    if (CGROUP / "cgroup.controllers").exists():
        return [CGROUP / root.strip("/")]
    return [d / root.strip("/") for d in sorted(CGROUP.iterdir()) if d.is_dir() and not d.is_symlink()]


def make_cgroup(root: str) -> None:
    for d in cgroup_dirs(root):
        d.mkdir(parents=True, exist_ok=True)


def kill_cgroup(root: str, timeout: float = 15) -> int:
    """SIGKILL every process in cgroup ``root`` and below; returns how many there were."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {pid for d in cgroup_dirs(root) if d.exists() for pid in _procs_below(d)}
        if not pids:
            return len(killed)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    raise ClusterError(f"processes in cgroup {root} survived SIGKILL for {timeout:g}s")


def _procs_below(d: Path) -> set[int]:
    pids: set[int] = set()
    # os.walk skips directories that vanish under it: the kubelet removes pod cgroups while we look.
    for parent, _, files in os.walk(d):
        if "cgroup.procs" not in files:
            continue
        try:
            pids.update(int(p) for p in (Path(parent) / "cgroup.procs").read_text().split())
        except OSError:
            continue
    return pids


def remove_cgroup(root: str) -> None:
    for d in cgroup_dirs(root):
        # Deepest first (topdown=False); a directory someone else removed meanwhile is fine.
        for parent, _, _ in os.walk(d, topdown=False):
            try:
                Path(parent).rmdir()
            except FileNotFoundError:
                continue


def processes_with_arg(value: str) -> list[int]:
    """Processes whose command line has ``value`` as one argument (e.g. our containerd socket)."""
    return [int(proc.name) for proc, argv in command_lines() if value.encode() in argv]


def kill_all(pids: list[int], timeout: float = 10) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)


def mounts_below(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first (as /proc/self/mountinfo spells them)."""
    prefix = str(path.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def unmount_below(path: Path) -> int:
    """Unmount everything at or below ``path`` (shm, overlays, netns, volumes); returns the count."""
    count = 0
    for _ in range(5):  # stacked mounts come off one layer per pass
        points = mounts_below(path)
        if not points:
            return count
        for point in points:
            if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)
            count += 1
    left = mounts_below(path)
    if left:
        raise ClusterError(f"could not unmount {len(left)} mounts below {path}, e.g. {left[0]}")
    return count
