"""Images built elsewhere (e2e/images/build.sh writes them into one OCI layout) brought into the real
nodes' containerd: only when the node lacks that manifest, and streaming only the blobs it lacks
(torch's layers are gigabytes and shared by the trainer and server images)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from localcluster.config import Config
from localcluster.procs import ClusterError

from . import node

REF_ANNOTATION = "org.opencontainers.image.ref.name"


def _ctr(cfg: Config, index: int, *args: str) -> str:
    out = subprocess.run(
        ["ctr", "--address", str(node.socket(cfg, index)), "-n", "k8s.io", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise ClusterError(f"ctr {' '.join(args)} on {node.node_name(index)} failed: {out.stderr.strip()}")
    return out.stdout


def manifest_of(layout: Path, ref: str) -> dict[str, Any]:
    index = json.loads((layout / "index.json").read_text())
    for desc in index.get("manifests", []):
        if desc.get("annotations", {}).get(REF_ANNOTATION) == ref:
            return dict(desc)
    raise ClusterError(f"{layout} holds no image {ref}; build it with `make images`")


def _blob(layout: Path, digest: str) -> Path:
    algorithm, hexdigest = digest.split(":", 1)
    return layout / "blobs" / algorithm / hexdigest


def blobs_of(layout: Path, desc: dict[str, Any]) -> list[str]:
    manifest = json.loads(_blob(layout, desc["digest"]).read_text())
    return [desc["digest"], manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]


def image_digest(cfg: Config, index: int, ref: str) -> str | None:
    for line in _ctr(cfg, index, "images", "ls", f"name=={ref}").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[0] == ref:
            return fields[2]
    return None


def import_ref(cfg: Config, index: int, layout: Path, ref: str) -> bool:
    """Import image ``ref`` from ``layout`` unless the node has it; returns whether it imported."""
    desc = manifest_of(layout, ref)
    if image_digest(cfg, index, ref) == desc["digest"]:
        return False
    have = set(_ctr(cfg, index, "content", "ls", "-q").split())
    wanted = [d for d in blobs_of(layout, desc) if d not in have]
    with (
        tempfile.TemporaryFile() as output,
        subprocess.Popen(
            ["ctr", "--address", str(node.socket(cfg, index)), "-n", "k8s.io", "images", "import", "-"],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as proc,
    ):
        assert proc.stdin is not None
        # The archive is streamed: the layers (GBs of torch) never sit on disk twice.
        with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
            for name, data in (
                ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                ("index.json", json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for digest in wanted:
                tar.add(_blob(layout, digest), arcname="blobs/" + digest.replace(":", "/"))
        proc.stdin.close()
        if proc.wait() != 0:
            output.seek(0)
            said = output.read().decode(errors="replace").strip()
            raise ClusterError(f"importing {ref} into {node.node_name(index)} failed: {said}")
    return True


def import_all(cfg: Config, layout: Path, refs: list[str]) -> None:
    indexes = node.running_nodes(cfg)
    if not indexes:
        raise ClusterError("no real node is running; start one with `make cluster REAL_NODES=1`")
    for ref in refs:
        for i in indexes:
            began = time.monotonic()
            if import_ref(cfg, i, layout, ref):
                print(f"imported {ref} into {node.node_name(i)} in {time.monotonic() - began:.1f}s")
