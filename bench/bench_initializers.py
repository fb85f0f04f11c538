"""Initializer throughput (issue #16): the real `lepton-init` fetching one file of --size bytes
(1 GiB by default) from a local path (what a pvc:// source is inside the pod: a mounted directory)
and from S3 (moto's server mode on loopback, started here), with the sha256 digest verified.

Each source is fetched --runs times into a fresh destination; the figure is bytes / the seconds the
command reports for the fetch (its own record, without the interpreter's start), and the wall time
of the whole process beside it. Everything runs on this host: the numbers are this disk's, this
CPU's sha256 and loopback HTTP, not a cluster's network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATHS = [str(REPO / "operator"), str(REPO / "tests")]
sys.path[:0] = PATHS
os.environ["PYTHONPATH"] = os.pathsep.join([*PATHS, *filter(None, [os.environ.get("PYTHONPATH")])])

from support.s3 import moto_server  # noqa: E402


def make_file(path: Path, size: int) -> str:
    sha = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        for offset in range(0, size, len(block)):
            chunk = block[: min(len(block), size - offset)]
            # Vary every block so nothing along the way can deduplicate or compress it.
            chunk = offset.to_bytes(8, "little") + chunk[8:]
            sha.update(chunk)
            out.write(chunk)
    return f"sha256:{sha.hexdigest()}"


def fetch(source: str, dest: Path, digest: str, env: dict[str, str]) -> tuple[float, float]:
    shutil.rmtree(dest, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lepton.runtime.initializer", "--name", "bench", "--source", source,
         "--dest", str(dest), "--digest", digest],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"lepton-init failed ({done.returncode}):\n{done.stderr}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["verified"] is True
    return float(record["seconds"]), wall


def report(name: str, size: int, runs: list[tuple[float, float]]) -> None:
    rates = [size / seconds / (1 << 20) for seconds, _ in runs]
    walls = [wall for _, wall in runs]
    print(
        f"{name:>6}: {statistics.median(rates):7.1f} MiB/s median ({min(rates):.1f}-{max(rates):.1f}), "
        f"fetch {statistics.median([s for s, _ in runs]):.2f} s, "
        f"process wall {statistics.median(walls):.2f} s, "
        f"{len(runs)} runs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1 << 30, help="bytes of the file (default 1 GiB)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where the files go (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        source = root / "pvc" / "data" / "train.bin"
        source.parent.mkdir(parents=True)
        digest = make_file(source, args.size)
        print(f"file: {args.size} bytes, {digest}; {os.cpu_count()} CPUs")
        local = [
            fetch("pvc://data/train.bin", root / "dest-local", digest, {"LEPTON_PVC_ROOT": str(root / "pvc")})
            for _ in range(args.runs)
        ]
        report("pvc", args.size, local)
        shutil.rmtree(root / "dest-local")
        with moto_server(root) as s3:
            client = s3.client()
            client.create_bucket(Bucket="bench")
            client.upload_file(str(source), "bench", "data/train.bin")
            remote = [
                fetch("s3://bench/data/train.bin", root / "dest-s3", digest, s3.env())
                for _ in range(args.runs)
            ]
        report("s3", args.size, remote)


if __name__ == "__main__":
    main()
