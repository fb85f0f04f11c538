"""Starting, probing and stopping the cluster's processes (pid files under the state dir)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


class ClusterError(SystemExit):
    """A failure with a message that says what to do; exits the CLI with status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


@dataclass(frozen=True)
class Probe:
    url: str
    ca: Path | None = None
    cert: tuple[Path, Path] | None = None

    def ok(self) -> bool:
        context = None
        if self.url.startswith("https"):
            context = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
            if self.ca is None:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if self.cert:
                context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
        try:
            with urllib.request.urlopen(self.url, timeout=2, context=context) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free(ports: dict[str, int]) -> None:
    busy = [f"{port} ({what})" for what, port in ports.items() if not port_free(port)]
    if busy:
        raise ClusterError(
            f"port {', '.join(busy)} in use by another process; stop it, or choose other ports with "
            "LEPTON_PORT_<NAME>=<port> (see e2e/localcluster/config.py)"
        )


def command_lines() -> Iterator[tuple[Path, list[bytes]]]:
    """Each running process's /proc entry and argv (processes that end meanwhile are skipped)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield proc, argv


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def read_pid(run: Path, name: str) -> int | None:
    try:
        return int((run / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


# Processes this Python process started to outlive the call (daemons with a pid file). Holding their
# Popen objects keeps Python from warning that they still run when the object would be collected
# (an error under pytest's -W error); a zombie among them counts as gone (alive()).
_DETACHED: list[subprocess.Popen[bytes]] = []


def start(run: Path, logs: Path, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    run.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    _DETACHED.append(proc)
    (run / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def wait_ready(name: str, probe: Probe, pid: int, logs: Path, timeout: float) -> float:
    """Wait until ``probe`` answers 200; fail at once if the process dies. Returns seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if probe.ok():
            return time.monotonic() - began
        if not alive(pid):
            raise ClusterError(
                f"{name} exited during start-up; last lines of {logs / (name + '.log')}:\n"
                + tail(logs / f"{name}.log")
            )
        time.sleep(0.2)
    raise ClusterError(
        f"{name} not ready after {timeout:g}s ({probe.url}); see {logs / (name + '.log')}:\n"
        + tail(logs / f"{name}.log")
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(run: Path, name: str, timeout: float = 15) -> bool:
    """SIGTERM the process group, SIGKILL after ``timeout``. Returns whether something was running."""
    pid = read_pid(run, name)
    (run / f"{name}.pid").unlink(missing_ok=True)
    if pid is None or not alive(pid):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.1)
    return True
