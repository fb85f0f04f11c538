"""The generator is deterministic, the committed CRDs match it, and --check catches drift."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from api_examples import ROOT

from lepton.api.generate import HEADER, OUTPUT_DIRS, check, main, render_all, write


def test_rendering_twice_gives_identical_files():
    assert render_all() == render_all()


def test_rendering_does_not_depend_on_hash_seed(tmp_path: Path):
    outputs = []
    for seed in ("1", "2"):
        root = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "lepton.api.generate", "--root", str(root)],
            check=True,
            env=env,
            capture_output=True,
        )
        outputs.append({p.relative_to(root): p.read_text() for p in sorted(root.rglob("*.yaml"))})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 8  # 4 CRDs (3 kinds and ClusterQueue), in crds/ and the chart


def test_committed_crds_match_the_models():
    problems = check(ROOT, render_all())
    assert problems == [], "run `make crds` and commit:\n" + "\n".join(problems)


def test_one_crd_per_file_named_for_its_plural():
    for name, text in render_all().items():
        docs = list(yaml.safe_load_all(text))
        assert len(docs) == 1
        assert name == f"{docs[0]['spec']['names']['plural']}.yaml"
        assert text.startswith(HEADER)


def test_check_reports_an_edited_a_missing_and_a_stray_file(tmp_path: Path, capsys):
    files = render_all()
    write(tmp_path, files)
    assert check(tmp_path, files) == []
    assert main(["--check", "--root", str(tmp_path)]) == 0

    edited = tmp_path / OUTPUT_DIRS[0] / "trainingjobs.yaml"
    edited.write_text(edited.read_text().replace("default: 29500", "default: 29501"))
    (tmp_path / OUTPUT_DIRS[1] / "modelversions.yaml").unlink()
    (tmp_path / OUTPUT_DIRS[1] / "old.yaml").write_text("kind: Stale\n")

    problems = check(tmp_path, files)
    assert len(problems) == 3, problems
    assert "crds/trainingjobs.yaml: differs" in problems[0]
    assert "-                default: 29501" in problems[0]
    assert "+                default: 29500" in problems[0]
    assert problems[1] == "charts/lepton/crds/modelversions.yaml: missing"
    assert "charts/lepton/crds/old.yaml: not generated" in problems[2]

    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_write_repairs_drift_and_removes_only_stale_generated_files(tmp_path: Path):
    files = render_all()
    write(tmp_path, files)
    crds = tmp_path / OUTPUT_DIRS[0]
    (crds / "removed-kind.yaml").write_text(HEADER + "kind: CustomResourceDefinition\n")
    (crds / "hand-written.yaml").write_text("kind: ConfigMap\n")
    (crds / "trainingjobs.yaml").write_text("edited\n")

    written = write(tmp_path, files)

    assert written == [crds / "trainingjobs.yaml"]
    assert not (crds / "removed-kind.yaml").exists()
    assert (crds / "hand-written.yaml").exists()
    assert [p for p in check(tmp_path, files) if "hand-written" not in p] == []
