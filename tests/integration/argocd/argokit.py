"""The Argo CD health checks' testdata, recorded from live objects of the local cluster.

Each scenario drives a real object into a phase and hands it to ``Recorder.capture``, which
normalises it (no managedFields, uid, resourceVersion or creationTimestamp; the test's namespace
read as ml-team; timestamps and UIDs renumbered in order) and then:

- with LEPTON_RECORD_ARGOCD=1 writes it as argocd/resource_customizations/lepton.ai/<Kind>/testdata/
  <case>.yaml and writes what Argo CD's Lua (e2e/tools/luahealth) says of it into health_test.yaml,
  after checking that status against PHASE_HEALTH, the documented mapping; then remakes the
  synthetic testdata (argocd/testdata.py), which are derived from recorded ones;
- otherwise asserts that the live object has the committed file's phase and the same conditions
  (type, status, reason), and that the Lua health of the live object is health_test.yaml's
  expectation for that file, message included. A change in what the operator writes fails here
  until the testdata are re-recorded.

Objects change between the reconciles a poll would miss (Admitted, Restarting, Activating last a
moment), so scenarios read them from a watch that starts before the change: ``Watched.until``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, watch

from lepton.api.times import rfc3339
from support.paths import REPO

KINDS = REPO / "argocd" / "resource_customizations" / "lepton.ai"
GROUP, VERSION = "lepton.ai", "v1alpha1"
PLURALS = {
    "TrainingJob": "trainingjobs",
    "ModelVersion": "modelversions",
    "InferenceService": "inferenceservices",
}
NAMESPACE = "ml-team"  # what the recorded objects say instead of the test's namespace
RECORDED = "# Recorded from the local cluster by tests/integration/argocd"
# The documented mapping (argocd/README.md): what Argo CD must say of each phase.
PHASE_HEALTH = {
    "TrainingJob": {
        **dict.fromkeys(("Created", "Queued", "Admitted", "Running", "Restarting"), "Progressing"),
        "Succeeded": "Healthy",
        "Failed": "Degraded",
        "Suspended": "Suspended",
    },
    "ModelVersion": {
        "Pending": "Progressing",
        "Verifying": "Progressing",
        "Ready": "Healthy",
        "Failed": "Degraded",
    },
    "InferenceService": {
        **dict.fromkeys(("Pending", "Deploying", "RollingOut", "Activating"), "Progressing"),
        **dict.fromkeys(("Ready", "ScaledToZero"), "Healthy"),
        **dict.fromkeys(("Degraded", "Failed"), "Degraded"),
    },
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DROPPED_METADATA = ("managedFields", "uid", "resourceVersion", "creationTimestamp", "selfLink")
# kubectl's and kopf's bookkeeping: copies of the spec, not what the operator reports.
DROPPED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "lepton.ai/last-handled-configuration",
    "lepton.ai/kopf-managed",
)
T0 = dt.datetime(2026, 1, 15, 10, tzinfo=dt.UTC)
EPOCHS = (1e9, 1e10)  # numbers in this range are Unix times (the autoscaler's memory keeps some)


def recording() -> bool:
    return os.environ.get("LEPTON_RECORD_ARGOCD", "") == "1"


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in _leaves(v)]
    return [value]


def _strings(value: Any) -> list[str]:
    return [s for s in _leaves(value) if isinstance(s, str)]


def _mapped(value: Any, change: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _mapped(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_mapped(v, change) for v in value]
    return change(value)


def _epoch(value: Any) -> bool:
    return isinstance(value, float) and EPOCHS[0] < value < EPOCHS[1]


def _time_of(value: Any) -> float:
    return float(value) if _epoch(value) else dt.datetime.fromisoformat(value).timestamp()


def _times(obj: Any) -> dict[Any, Any]:
    """Each timestamp (RFC 3339 text or a Unix time) -> T0 plus one minute per earlier distinct
    instant, in its own form: equal stays equal, earlier stays earlier."""
    found = {v for v in _leaves(obj) if _epoch(v) or (isinstance(v, str) and TIMESTAMP.match(v))}
    instants = sorted({_time_of(v) for v in found})
    at = {t: T0 + dt.timedelta(minutes=i) for i, t in enumerate(instants)}
    return {v: at[_time_of(v)].timestamp() if _epoch(v) else rfc3339(at[_time_of(v)]) for v in found}


def normalised(body: dict[str, Any], aliases: dict[str, str] | None = None) -> dict[str, Any]:
    """The live object without what differs from run to run, so that a re-recording diffs only
    where the operator changed what it writes. ``aliases`` name other such strings (a port)."""
    aliases = {body["metadata"]["namespace"]: NAMESPACE, **(aliases or {})}
    metadata = {k: v for k, v in body["metadata"].items() if k not in DROPPED_METADATA}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k not in DROPPED_ANNOTATIONS
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    obj = {**body, "metadata": metadata}
    for old, new in aliases.items():
        obj = _mapped(obj, lambda v, old=old, new=new: v.replace(old, new) if isinstance(v, str) else v)
    times = _times(obj)
    uids: dict[str, str] = {}
    for s in _strings(obj):
        for uid in UID.findall(s):
            uids.setdefault(uid, f"00000000-0000-4000-8000-{len(uids) + 1:012d}")

    def change(v: Any) -> Any:
        if _epoch(v) or (isinstance(v, str) and v in times):
            return times[v]
        return UID.sub(lambda m: uids[m.group(0)], v) if isinstance(v, str) else v

    result: dict[str, Any] = _mapped(obj, change)
    return result


def conditions(body: dict[str, Any]) -> tuple[str | None, set[tuple[str, str, str]]]:
    status = body.get("status") or {}
    found = {(c["type"], c["status"], c.get("reason", "")) for c in status.get("conditions") or []}
    return status.get("phase"), found


def lua_health(luahealth: Path, kind: str, path: Path) -> dict[str, str]:
    script = KINDS / kind / "health.lua"
    out = subprocess.run(
        [str(luahealth), "--eval", str(script), str(path)], check=False, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result: dict[str, str] = json.loads(out.stdout)
    return result


@dataclass(frozen=True)
class Recorder:
    luahealth: Path
    scratch: Path

    def capture(
        self, kind: str, case: str, body: dict[str, Any], how: str, aliases: dict[str, str] | None = None
    ) -> None:
        """Record ``body`` as testdata/<case>.yaml, or check it against the committed file."""
        obj = normalised(body, aliases)
        path = KINDS / kind / "testdata" / f"{case}.yaml"
        text = f"{RECORDED} (LEPTON_RECORD_ARGOCD=1): {how}\n" + yaml.safe_dump(obj, sort_keys=False)
        live = self.scratch / kind / f"{case}.yaml"
        live.parent.mkdir(parents=True, exist_ok=True)
        live.write_text(text)
        health = lua_health(self.luahealth, kind, live)
        if recording():
            phase = obj["status"]["phase"]
            assert health["status"] == PHASE_HEALTH[kind][phase], (kind, case, phase, health)
            path.write_text(text)
            _expect(kind, f"testdata/{case}.yaml", health)
            _synthesise()
            return
        assert path.is_file(), f"{path.relative_to(REPO)} is not recorded: run with LEPTON_RECORD_ARGOCD=1"
        committed = yaml.safe_load(path.read_text())
        assert conditions(obj) == conditions(committed), (
            f"{kind} {case}: the operator now writes {conditions(obj)}, {path.relative_to(REPO)} says "
            f"{conditions(committed)}; re-record with LEPTON_RECORD_ARGOCD=1 and review the diff"
        )
        expected = _expectation(kind, f"testdata/{case}.yaml")
        assert health == expected, f"{kind} {case}: Argo CD would say {health}, health_test.yaml {expected}"


def _synthesise() -> None:
    """Remake the synthetic testdata, which argocd/testdata.py derives from recorded ones."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator")}
    subprocess.run([sys.executable, str(REPO / "argocd" / "testdata.py")], check=True, env=env)


def _tests_file(kind: str) -> Path:
    return KINDS / kind / "health_test.yaml"


def _expectation(kind: str, input_path: str) -> dict[str, str]:
    tests = yaml.safe_load(_tests_file(kind).read_text())["tests"]
    found = [t["healthStatus"] for t in tests if t["inputPath"] == input_path]
    assert len(found) == 1, f"{kind}/health_test.yaml has {len(found)} cases for {input_path}"
    return {"status": found[0]["status"], "message": found[0].get("message", "")}


def _expect(kind: str, input_path: str, health: dict[str, str]) -> None:
    """Write ``health`` as the case of ``input_path`` in health_test.yaml (added when new)."""
    doc = yaml.safe_load(_tests_file(kind).read_text())
    case = {
        "healthStatus": {"status": health["status"], "message": health["message"]},
        "inputPath": input_path,
    }
    tests = doc["tests"]
    index = next((i for i, t in enumerate(tests) if t["inputPath"] == input_path), None)
    if index is None:
        tests.append(case)
    else:
        tests[index] = case
    _tests_file(kind).write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))


class Watched:
    """One object's every version from the moment the scenario armed it, read by a watch."""

    def __init__(self, api: client.ApiClient, namespace: str, kind: str, name: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace, self.kind, self.name = namespace, kind, name
        self.plural = PLURALS[kind]
        self.since = self._list()["metadata"]["resourceVersion"]
        self.last: dict[str, Any] | None = None

    def _list(self, **kwargs: Any) -> dict[str, Any]:
        return dict(
            self.custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                self.plural,
                field_selector=f"metadata.name={self.name}",
                **kwargs,
            )
        )

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60
    ) -> dict[str, Any]:
        """The first version (after the last one returned) for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        stream = watch.Watch()
        while (left := deadline - time.monotonic()) > 0:
            for event in stream.stream(
                self.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                self.plural,
                field_selector=f"metadata.name={self.name}",
                resource_version=self.since,
                timeout_seconds=max(1, int(left)),
                allow_watch_bookmarks=False,
            ):
                body = event["object"]
                self.since = body["metadata"]["resourceVersion"]
                if event["type"] == "DELETED":
                    continue
                self.last = body
                if predicate(body):
                    stream.stop()
                    return dict(body)
        raise AssertionError(
            f"timed out after {timeout:g}s waiting for {self.kind} {self.name}: {what}; "
            f"last seen status: {(self.last or {}).get('status')!r}"
        )

    def phase(self, phase: str, timeout: float = 60) -> dict[str, Any]:
        """The first version in ``phase`` written for the current generation."""
        return self.until(lambda b: settled(b, phase), f"phase {phase}", timeout)


def settled(body: dict[str, Any], phase: str) -> bool:
    status = body.get("status") or {}
    return status.get("phase") == phase and status.get("observedGeneration") == body["metadata"]["generation"]


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})
