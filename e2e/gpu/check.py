"""The CUDA paths on a GPU machine, in one short run: train the example under lepton-train on the GPU,
serve the artifact with lepton-serve on the GPU and on the CPU, check that both answer the same, and
time both. Prints one JSON object; exits non-zero when a check fails.

    PYTHONPATH=operator python3 e2e/gpu/check.py OUT_DIR

(NCCL between ranks needs two GPUs: one GPU cannot host two NCCL ranks, so a one-GPU machine checks
the single-process CUDA path, which needs no process group.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import torch

REQUESTS = 400
CONCURRENCY = 8
ROWS = 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(out: Path) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "1", "NNODES": "1",
        "NODE_RANK": "0", "NPROC_PER_NODE": "1", "LEPTON_JOB_NAME": "gpu-check",
        "LEPTON_NAMESPACE": "default", "LEPTON_RESTART_ATTEMPT": "0",
        "LEPTON_CHECKPOINT_DIR": str(out / "checkpoints"), "LEPTON_OUTPUT_DIR": str(out / "model"),
        "LEPTON_TERMINATION_MESSAGE_PATH": str(out / "termination-log"),
    }  # fmt: skip
    for name in ("MASTER_ADDR", "MASTER_PORT", "NNODES", "NODE_RANK", "NPROC_PER_NODE"):
        env[f"PET_{name}"] = env[name]
    started = time.monotonic()
    argv = [
        sys.executable,
        "-m",
        "lepton.runtime.launcher",
        sys.executable,
        "-m",
        "lepton.runtime.examples.classifier",
    ]
    done = subprocess.run(
        [*argv, "--epochs", "20", "--samples", "8192"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    (out / "train.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"training failed ({done.returncode}); see train.log:\n{done.stderr[-2000:]}")
    message = json.loads((out / "termination-log").read_text())
    return {
        "seconds": round(time.monotonic() - started, 1),
        "metrics": message.get("metrics"),
        "log_tail": done.stdout[-400:],
    }


def serve(model: Path, device: str, out: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (out / f"serve-{device}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lepton.serving.cli", "--model-dir", str(model), "--model-name", "clf",
         "--host", "127.0.0.1", "--port", str(port), "--device", device],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"lepton-serve --device {device} exited {proc.returncode}; see serve-{device}.log"
            )
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"lepton-serve --device {device} not ready after 180 s")


def infer(url: str, rows: list[list[float]]) -> list[float]:
    body = {
        "inputs": [
            {
                "name": "input",
                "shape": [len(rows), 16],
                "datatype": "FP32",
                "data": [v for row in rows for v in row],
            }
        ]
    }
    response = httpx.post(f"{url}/v2/models/clf/infer", json=body, timeout=30)
    response.raise_for_status()
    return [float(v) for v in response.json()["outputs"][0]["data"]]


def throughput(url: str, rows: list[list[float]]) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda _: infer(url, rows), range(REQUESTS)))
    return REQUESTS / (time.monotonic() - started)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    # --dry-run: the same steps with the CPU in the GPU's place, to check the script without a GPU.
    gpu = "cpu" if "--dry-run" in sys.argv else "cuda"
    result: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    if not result["cuda"] and gpu == "cuda":
        raise SystemExit(json.dumps(result))
    result["train"] = train(out)
    model = out / "model"
    torch.manual_seed(0)
    rows = torch.randn(ROWS, 16).tolist()
    servers = {"cuda": serve(model, gpu, out), "cpu": serve(model, "cpu", out)}
    try:
        answers = {device: infer(url, rows) for device, (_, url) in servers.items()}
        worst = max(abs(a - b) for a, b in zip(answers["cuda"], answers["cpu"], strict=True))
        result["max_abs_diff_cuda_vs_cpu"] = worst
        result["req_per_s"] = {d: round(throughput(url, rows), 1) for d, (_, url) in servers.items()}
        metrics = httpx.get(f"{servers['cuda'][1]}/metrics", timeout=5).text
        result["cuda_server_answered"] = "lepton_serving_requests_total" in metrics
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=60)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if worst > 1e-3 or result["train"]["metrics"] is None:
        raise SystemExit("GPU and CPU answers differ, or training reported no metrics")


if __name__ == "__main__":
    main()
