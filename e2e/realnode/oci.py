"""Tiny single-layer OCI images written with the standard library (no registry, no image builder):
the pod sandbox's pause image and a busybox image for tests. ``ctr images import`` reads the archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from localcluster.procs import ClusterError

HERE = Path(__file__).resolve().parent
PAUSE_IMAGE = "lepton.local/pause:1"
BUSYBOX_IMAGE = "lepton.local/busybox:1"


@dataclass(frozen=True)
class Entry:
    """One path in the image: a copy of ``source``, a symlink to ``link``, or a directory."""

    path: str
    source: Path | None = None
    link: str | None = None
    mode: int = 0o755


def _layer(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.mtime = 0
            info.mode = entry.mode
            if entry.link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link
                tar.addfile(info)
            elif entry.source is not None:
                data = entry.source.read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
    return buf.getvalue()


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))
    return f"sha256:{digest}"


def write_archive(out: Path, name: str, entries: list[Entry], config: dict[str, object]) -> None:
    """Write an OCI image layout archive holding one image called ``name`` (one layer)."""
    layer = _layer(entries)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
    }
    tmp = out.with_suffix(".partial")
    with tarfile.open(tmp, mode="w") as tar:
        layer_digest = _blob(tar, layer)
        config_bytes = json.dumps(image_config, sort_keys=True).encode()
        config_digest = _blob(tar, config_bytes)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest,
                        "size": len(layer),
                    }
                ],
            },
            sort_keys=True,
        ).encode()
        manifest_digest = _blob(tar, manifest)
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {"org.opencontainers.image.ref.name": name},
                }
            ],
        }
        for fname, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index).encode()),
        ):
            info = tarfile.TarInfo(fname)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(out)


def _path(cache: Path, stem: str, key_parts: list[bytes]) -> Path:
    key = hashlib.sha256(b"\0".join([Path(__file__).read_bytes(), *key_parts])).hexdigest()[:16]
    return cache / "images" / f"{stem}-{key}.oci.tar"


def _cached(cache: Path, stem: str, key_parts: list[bytes]) -> tuple[Path, bool]:
    path = _path(cache, stem, key_parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, path.exists()


def archive_paths(cache: Path) -> list[Path]:
    """Where the current pause and busybox archives are (or will be): `make clean-cache` keeps them."""
    busybox = Path("/bin/busybox")
    paths = [_path(cache, "pause", [(HERE / "pause.c").read_bytes()])]
    if busybox.exists():
        paths.append(_path(cache, "busybox", [busybox.read_bytes()]))
    return paths


def pause_archive(cache: Path) -> Path:
    """The sandbox image: a static C program that waits for a signal (built once, cached)."""
    source = HERE / "pause.c"
    out, done = _cached(cache, "pause", [source.read_bytes()])
    if done:
        return out
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ClusterError("gcc is missing (it builds the pod sandbox's pause program); run `make setup`")
    binary = out.with_name(out.name + ".pause")
    built = subprocess.run(
        [gcc, "-static", "-Os", "-s", "-o", str(binary), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise ClusterError(f"building the pause program failed (needs libc6-dev): {built.stderr.strip()}")
    try:
        write_archive(out, PAUSE_IMAGE, [Entry("pause", source=binary)], {"Entrypoint": ["/pause"]})
    finally:
        binary.unlink(missing_ok=True)
    return out


def busybox_archive(cache: Path) -> Path:
    """A busybox image (Debian's busybox-static) for tests and examples: sh, nc, wget, nslookup."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise ClusterError("/bin/busybox is missing; run `make setup` (Debian package busybox-static)")
    out, done = _cached(cache, "busybox", [busybox.read_bytes()])
    if done:
        return out
    listing = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    applets = sorted(set(listing.stdout.split()) - {"busybox"})
    entries = [Entry("bin", mode=0o755), Entry("bin/busybox", source=busybox)]
    entries += [Entry(f"bin/{a}", link="busybox") for a in applets]
    entries += [Entry(d, mode=0o1777 if d == "tmp" else 0o755) for d in ("etc", "tmp", "root")]
    entries += [Entry("etc/passwd", source=_text(out, "root:x:0:0:root:/root:/bin/sh\n"), mode=0o644)]
    entries += [Entry("etc/group", source=_text(out, "root:x:0:\n"), mode=0o644)]
    write_archive(out, BUSYBOX_IMAGE, entries, {"Cmd": ["sh"], "Env": ["PATH=/bin"]})
    for extra in out.parent.glob(out.name + ".*.txt"):
        extra.unlink()
    return out


def _text(out: Path, text: str) -> Path:
    path = out.with_name(f"{out.name}.{hashlib.sha256(text.encode()).hexdigest()[:8]}.txt")
    path.write_text(text)
    os.chmod(path, 0o644)
    return path
