"""Rank 0 serves its progress while it trains: the example under lepton-train, read the way the
operator reads it (lepton.prom.scrape, lepton.policies.progress), twice during the run with the step
moving on, and gone once the pod exits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import EXAMPLE, LEPTON_TRAIN, Pods, design_pod_env, logs
from lepton.policies.metric_result import Error
from lepton.policies.progress import parse
from lepton.prom.scrape import scrape
from support.ports import free_port
from support.wait import wait_for


def _progress(url: str) -> dict[str, float] | None:
    text = asyncio.run(scrape(url, timeout_seconds=2))
    return None if isinstance(text, Error) else parse(text) or None


def test_rank0_serves_progress_during_training(pods: Pods, tmp_path: Path) -> None:
    metrics = free_port()
    env = design_pod_env(job="progress", replicas=1, nproc=1, index=0, port=free_port(), root=tmp_path)
    env.update(LEPTON_METRICS_PORT=str(metrics), LEPTON_METRICS_ADDR="127.0.0.1")
    # 256 samples in batches of 32, 50 ms a step: an epoch (one report) every ~0.4 s for ~12 s.
    argv = [LEPTON_TRAIN, *EXAMPLE, "--samples", "256", "--epochs", "30", "--min-epochs", "30"]
    pod = pods.start("rank0", [*argv, "--step-delay", "0.05"], env)
    url = f"http://127.0.0.1:{metrics}/metrics"

    first = wait_for(lambda: _progress(url), 120, "rank 0's first progress", seen=pod.output)
    assert set(first) == {"step", "epoch", "loss", "samplesPerSecond"}, first
    later = wait_for(
        lambda: (p := _progress(url)) and p["step"] > first["step"] and p,
        60,
        "the step to move on",
        seen=pod.output,
    )
    assert later["epoch"] > first["epoch"]
    assert not pod.exited(), "progress must be read while training, not after"

    assert pod.wait(timeout=120) == 0, logs(pod)
    assert isinstance(asyncio.run(scrape(url, timeout_seconds=2)), Error)
