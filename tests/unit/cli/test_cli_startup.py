"""`lepton get` imports only what it needs, and the client works without the operator's packages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SLOW_OR_OPERATOR_ONLY = ("kubernetes", "kopf", "pydantic", "numpy", "lepton.api", "lepton.operator")

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("kopf", "kubernetes"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, Block())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": "/nonexistent/kubeconfig"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, check=False
    )


def test_lepton_get_loads_no_slow_or_operator_module():
    done = run(f"""
        import sys
        from lepton.cli.main import main
        code = main(["get"])
        loaded = sorted({{m for m in sys.modules if m.startswith({SLOW_OR_OPERATOR_ONLY!r})}})
        print(code, loaded)
    """)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1) == ["3", "[]\n"], (
        done.stdout
    )  # exit 3: no kubeconfig, nothing slow loaded
    assert "set KUBECONFIG or pass --kubeconfig" in done.stderr


def test_the_client_needs_neither_kopf_nor_kubernetes():
    done = run(
        BLOCK
        + """
from lepton import api
from lepton.client import InferenceService, TrainingJob, connect
from lepton.cli.main import main
job = TrainingJob(
    metadata=api.ObjectMeta(name="j"),
    spec=api.TrainingJobSpec(template=api.PodTemplate(spec=api.PodSpecLite(containers=[api.Container(name="trainer")]))),
)
print(job.manifest()["kind"], InferenceService.__name__, main(["describe", "tj/j"]))
"""
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TrainingJob InferenceService 3"
