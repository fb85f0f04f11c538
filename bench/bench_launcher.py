"""Throughput of the built-in example under `lepton-train` against plain `torchrun`, same script.

Both read the same injected pod environment (torchrun through its PET_* variables), so the only
difference is the launcher. Prints samples/s (mean over the epochs after the first) per launcher
and process count, and the lepton-train/torchrun ratio. CPU/gloo by default; on a CUDA machine
the example picks NCCL (one process per GPU).

    .venv/bin/python bench/bench_launcher.py [--procs 1 2 4] [--repeats 2] [--epochs 4]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LAUNCHERS = {"lepton-train": str(BIN / "lepton-train"), "torchrun": str(BIN / "torchrun")}
EPOCH_LINE = re.compile(r"epoch (\d+) loss \S+ samples/s (\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pod_env(nproc: int, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PET_", "LEPTON_", "TORCHELASTIC_"))}
    port = str(free_port())
    for name, value in {
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NNODES": "1", "NODE_RANK": "0",
        "NPROC_PER_NODE": str(nproc),
    }.items():  # fmt: skip
        env[name] = env[f"PET_{name}"] = value
    env.update(
        WORLD_SIZE=str(nproc),
        OMP_NUM_THREADS="1",
        LEPTON_METRICS_PORT="0",
        LEPTON_CHECKPOINT_DIR=str(root / "ckpt"),
        LEPTON_OUTPUT_DIR=str(root / "out"),
        LEPTON_TERMINATION_MESSAGE_PATH=str(root / "termination-log"),
    )
    return env


def run_once(launcher: str, nproc: int, args: argparse.Namespace) -> tuple[float, float]:
    """(samples/s averaged over epochs 2.., wall seconds)."""
    example = ["-m", "lepton.runtime.examples.classifier", "--epochs", str(args.epochs)]
    example += ["--min-epochs", str(args.epochs), "--target-loss", "10", "--samples", str(args.samples)]
    with tempfile.TemporaryDirectory(prefix="bench-launcher-") as tmp:
        started = time.perf_counter()
        done = subprocess.run(
            [LAUNCHERS[launcher], *example],
            env=pod_env(nproc, Path(tmp)),
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{launcher} x{nproc} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    rates = [float(m[2]) for m in EPOCH_LINE.finditer(done.stdout) if int(m[1]) > 1]
    return statistics.mean(rates), wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for nproc in args.procs:
        for _ in range(args.repeats):
            # Interleaved, so drift in the machine's load hits both launchers alike.
            for launcher in LAUNCHERS:
                results.setdefault((launcher, nproc), []).append(run_once(launcher, nproc, args))

    print(
        f"\nexample classifier, {args.samples} samples x {args.epochs} epochs, median of {args.repeats} runs"
    )
    print("ratio = lepton-train / torchrun samples/s of each interleaved pair: median [min-max]")
    header = f"{'procs':>5} {'lepton-train s/s':>17} {'torchrun s/s':>13} {'ratio':>6} {'pairs':>13}"
    print(f"{header} {'wall lt/tr (s)':>15}")
    for nproc in args.procs:
        lt = results[("lepton-train", nproc)]
        tr = results[("torchrun", nproc)]
        lt_rate, tr_rate = statistics.median(r for r, _ in lt), statistics.median(r for r, _ in tr)
        lt_wall, tr_wall = statistics.median(w for _, w in lt), statistics.median(w for _, w in tr)
        # Pairs ran back to back, so their ratio cancels most of the drift in the machine's load.
        pairs = [a / b for (a, _), (b, _) in zip(lt, tr, strict=True)]
        spread = f"[{min(pairs):.2f}-{max(pairs):.2f}]"
        print(
            f"{nproc:>5} {lt_rate:>17.0f} {tr_rate:>13.0f} {statistics.median(pairs):>6.3f} {spread:>13} "
            f"{lt_wall:>7.1f}/{tr_wall:<7.1f}"
        )


if __name__ == "__main__":
    main()
