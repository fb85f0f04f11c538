"""What the demo's steps share: a clock that reports progress and bounds waits, and kubectl."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from localcluster.config import Config

NAMESPACE = "lepton-demo"
REAL_NODE_SELECTOR = {"lepton.ai/node-kind": "real"}
REAL_NODE_TOLERATION = {"key": "lepton.ai/real-node", "operator": "Exists", "effect": "NoSchedule"}
T = TypeVar("T")


class DemoError(Exception):
    """A step failed; the message says which and why."""


class Clock:
    def __init__(self) -> None:
        self.began = time.monotonic()

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f}s] {message}", flush=True)

    def wait(
        self,
        what: str,
        probe: Callable[[], T | None],
        timeout: float,
        seen: Callable[[], str] | None = None,
        every: float = 20,
    ) -> T:
        """Poll ``probe`` until it returns a value; print what is seen every ``every`` seconds."""
        self.say(f"waiting for {what} (up to {timeout:g}s)")
        began = time.monotonic()
        last_report = began
        last: object = None
        while time.monotonic() - began < timeout:
            try:
                value = probe()
            except DemoError:
                raise
            except Exception as exc:  # not there yet: keep polling
                value, last = None, exc
            if value is not None:
                self.say(f"... done after {time.monotonic() - began:.0f}s")
                return value
            if seen is not None and time.monotonic() - last_report >= every:
                last_report = time.monotonic()
                self.say(f"... still waiting ({time.monotonic() - began:.0f}s): {seen()}")
            time.sleep(1)
        detail = seen() if seen is not None else repr(last)
        raise DemoError(f"{what}: not done after {timeout:g}s; last seen: {detail}")


class Kube:
    def __init__(self, cfg: Config, bin_dir: Path) -> None:
        self.base = [str(bin_dir / "kubectl"), "--kubeconfig", str(cfg.kubeconfig)]

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        out = subprocess.run(
            [*self.base, *args], input=stdin, capture_output=True, text=True, check=False, timeout=120
        )
        if check and out.returncode != 0:
            raise DemoError(f"kubectl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def get(self, kind: str, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
        return dict(json.loads(self.run("get", kind, name, "-n", namespace, "-o", "json")))

    def manifest(self, path: Path) -> list[dict[str, Any]]:
        """The objects of a YAML file as JSON (kubectl parses; the demo runs without the venv's yaml)."""
        text = self.run("create", "--dry-run=client", "-o", "json", "-f", str(path))
        objects, at, decoder = [], 0, json.JSONDecoder()
        while text[at:].strip():  # one JSON document per object, back to back
            obj, end = decoder.raw_decode(text[at:].lstrip())
            at = len(text) - len(text[at:].lstrip()) + end
            objects.extend(obj["items"] if obj.get("kind") == "List" else [obj])
        return objects

    def apply(
        self, objects: list[dict[str, Any]], manager: str = "lepton-demo", partial: bool = False
    ) -> None:
        """Server-side apply; ``partial`` objects (only the fields this manager owns) skip kubectl's
        client-side schema check, which wants whole objects."""
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        flags = ["--validate=false"] if partial else []
        self.run("apply", "--server-side", f"--field-manager={manager}", *flags, "-f", "-", stdin=body)

    def pods_line(self, selector: str) -> str:
        pods = json.loads(self.run("get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "json"))["items"]
        if not pods:
            return f"no pods with {selector} yet"
        return ", ".join(f"{p['metadata']['name']} {pod_state(p)}" for p in pods)


def pod_state(pod: dict[str, Any]) -> str:
    status = pod.get("status", {})
    for cs in status.get("initContainerStatuses", []) + status.get("containerStatuses", []):
        waiting = cs.get("state", {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "PodInitializing"):
            return f"{waiting['reason']}"
    return str(status.get("phase", "Pending"))


def condition(obj: dict[str, Any], kind: str) -> str | None:
    """The message of condition ``kind`` when it is True, else None."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return str(c.get("message") or c.get("reason") or kind)
    return None
