"""The user guide: its examples are valid objects that keep every field, each kind page has one, and
its generated tables (fields, troubleshooting) are current."""

from __future__ import annotations

import subprocess
import sys

import pytest
from api_examples import MODELS, lost_fields

from support.docs import examples
from support.paths import REPO

EXAMPLES = examples()
PAGES = {
    "TrainingJob": "trainingjob.md",
    "ModelVersion": "modelversion.md",
    "InferenceService": "inferenceservice.md",
    "ClusterQueue": "queues.md",
}


def test_every_kind_page_has_a_complete_example_of_its_kind():
    for kind, page in PAGES.items():
        assert any(e.page == page and e.manifest["kind"] == kind for e in EXAMPLES), page


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_is_valid_and_keeps_every_field(example):
    model = MODELS[example.manifest["kind"]].model_validate(example.manifest)
    dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert lost_fields(example.manifest, dumped) == []


def test_generated_tables_are_current():
    out = subprocess.run(
        [sys.executable, str(REPO / "docs" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_troubleshooting_page_lists_every_reason_lepton_describe_explains():
    from lepton.client import explain

    page = (REPO / "docs" / "troubleshooting.md").read_text()
    for reasons in explain.BY_KIND.values():
        for reason in reasons:
            assert f"| `{reason}` |" in page, reason
