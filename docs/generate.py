"""Fill the generated parts of the user guide (or check they are current).

    python docs/generate.py [--check]

- the field tables of docs/trainingjob.md, docs/modelversion.md, docs/inferenceservice.md and
  docs/queues.md, from
  the CRDs that lepton.api.crd makes of the pydantic models (their docstrings are the descriptions);
- the reason tables of docs/troubleshooting.md, from lepton.client.explain (what `lepton describe`
  prints), so an explanation is written once.

Each generated part sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; the text
around it is hand-written and kept as it is.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

from lepton.api.crd import KINDS, crd
from lepton.client import explain

DOCS = Path(__file__).resolve().parent
PAGES = {
    "TrainingJob": "trainingjob.md",
    "ModelVersion": "modelversion.md",
    "InferenceService": "inferenceservice.md",
    "ClusterQueue": "queues.md",
}
TROUBLESHOOTING = "troubleshooting.md"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S
)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _type(node: dict[str, Any]) -> str:
    if node.get("type") == "array":
        return f"list of {_type(node.get('items', {}))}"
    kind = node.get("type") or ("object" if node.get("x-kubernetes-preserve-unknown-fields") else "any")
    if "enum" in node:
        kind += ": " + ", ".join(f"`{v}`" for v in node["enum"])
    bounds = [f"{op} {node[k]}" for k, op in (("minimum", ">="), ("maximum", "<=")) if k in node]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _rows(node: dict[str, Any], path: str, required: set[str]) -> list[str]:
    if node.get("type") == "array" and "items" in node:
        return _rows(node["items"], path + "[]", set(node["items"].get("required", [])))
    rows = []
    for name, child in (node.get("properties") or {}).items():
        if "description" not in child:
            # core/v1's own fields (the pod template, resources, env...), inlined without their
            # descriptions: the Kubernetes API reference documents them, not this guide.
            continue
        field = f"{path}.{name}"
        default = (
            json.dumps(child["default"]) if "default" in child else ("required" if name in required else "")
        )
        rows.append(
            f"| `{field}` | {_cell(_type(child))} | {_cell(default)} | {_cell(child.get('description', ''))} "
            "|"
        )
        rows += _rows(child, field, set(child.get("required", [])))
    return rows


def field_table(kind_name: str) -> str:
    kind = next(k for k in KINDS if k.model.__name__ == kind_name)
    spec = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    head = ["| field | type | default | what it does |", "|---|---|---|---|"]
    return "\n".join(head + _rows(spec, "spec", set(spec.get("required", [])))) + "\n"


def reason_table(kind_name: str) -> str:
    head = ["| reason or phase | what it means, and what to do |", "|---|---|"]
    rows = [f"| `{reason}` | {_cell(text)} |" for reason, text in sorted(explain.BY_KIND[kind_name].items())]
    return "\n".join(head + rows) + "\n"


def generated() -> dict[str, dict[str, str]]:
    """Page -> block name -> the block's body."""
    out = {page: {"fields": field_table(kind)} for kind, page in PAGES.items()}
    # A ClusterQueue has no status, so no reasons: its jobs' reasons are TrainingJob's.
    out[TROUBLESHOOTING] = {f"reasons-{k.lower()}": reason_table(k) for k in PAGES if k in explain.BY_KIND}
    return out


def render(text: str, blocks: dict[str, str], page: str) -> str:
    seen: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            raise SystemExit(f"{page}: unknown generated block {name!r}")
        seen.add(name)
        return match.group(1) + blocks[name] + match.group(4)

    result = _BLOCK.sub(fill, text)
    if missing := set(blocks) - seen:
        raise SystemExit(f"{page}: no <!-- generated:NAME --> marker for {sorted(missing)}")
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated part is not current")
    args = parser.parse_args(argv)
    stale = []
    for page, blocks in generated().items():
        path = DOCS / page
        current = path.read_text()
        text = render(current, blocks, page)
        if text == current:
            continue
        if args.check:
            diff = difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), page, page + " (generated)"
            )
            stale.append("".join(list(diff)[:40]))
        else:
            path.write_text(text)
    if stale:
        sys.stdout.write("".join(stale) + "run `python docs/generate.py` to regenerate\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
