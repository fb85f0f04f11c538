"""dist/install.yaml is the chart rendered with default values, ready for kubectl apply --server-side."""

from __future__ import annotations

import subprocess
import sys

import yaml

from support.paths import REPO


def test_dist_install_yaml_is_current() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "charts" / "dist.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_dist_install_yaml_creates_the_namespace_before_what_lives_in_it() -> None:
    docs = [d for d in yaml.safe_load_all((REPO / "dist" / "install.yaml").read_text()) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    assert kinds[1:4] == ["CustomResourceDefinition"] * 3
    assert "Pod" not in kinds  # the helm test hook is not part of an install
    namespaced = [d for d in docs if d["metadata"].get("namespace")]
    assert {d["metadata"]["namespace"] for d in namespaced} == {docs[0]["metadata"]["name"]}
