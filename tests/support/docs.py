"""The user guide's copy-paste examples: every ```yaml block of docs/*.md that is a Lepton object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from support.paths import REPO

DOCS = REPO / "docs"
_YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    page: str
    index: int
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.page}#{self.index}:{self.manifest['kind']}/{self.manifest['metadata']['name']}"


def examples() -> list[Example]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for index, match in enumerate(_YAML_BLOCK.finditer(page.read_text())):
            doc = yaml.safe_load(match.group(1))
            if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("lepton.ai/"):
                found.append(Example(page.name, index, doc))
    return found
