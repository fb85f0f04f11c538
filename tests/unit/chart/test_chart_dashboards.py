"""The Grafana dashboards: generated JSON is current, and the chart ships it for Grafana's sidecar."""

from __future__ import annotations

import json
import subprocess
import sys

from support.chart import Render, by_kind
from support.paths import REPO

DASHBOARDS = REPO / "charts" / "lepton" / "dashboards"


def test_the_committed_dashboards_are_what_the_generator_makes() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "charts" / "dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboards_are_off_by_default(render: Render) -> None:
    assert by_kind(render(), "ConfigMap") == []


def test_enabled_dashboards_are_configmaps_with_the_sidecar_label(render: Render) -> None:
    maps = by_kind(render("--set", "dashboards.enabled=true"), "ConfigMap")
    committed = {p.name: json.loads(p.read_text()) for p in DASHBOARDS.glob("*.json")}
    assert set(committed) == {"lepton-operator.json", "lepton-training.json", "lepton-serving.json"}
    shipped = {}
    for m in maps:
        assert m["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert m["metadata"]["annotations"]["grafana_folder"] == "Lepton"
        assert m["metadata"]["namespace"] == "lepton-system"
        ((name, text),) = m["data"].items()
        shipped[name] = json.loads(text)
    assert shipped == committed


def test_the_label_namespace_and_folder_follow_the_values(render: Render) -> None:
    maps = by_kind(
        render(
            "--set", "dashboards.enabled=true", "--set", "dashboards.label=dash",
            "--set", "dashboards.labelValue=yes", "--set", "dashboards.namespace=monitoring",
            "--set", "dashboards.folder=",
        ),
        "ConfigMap",
    )  # fmt: skip
    assert len(maps) == 3
    for m in maps:
        assert m["metadata"]["labels"]["dash"] == "yes"
        assert "grafana_dashboard" not in m["metadata"]["labels"]
        assert m["metadata"]["namespace"] == "monitoring"
        assert "grafana_folder" not in m["metadata"].get("annotations", {})
