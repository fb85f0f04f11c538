"""Fake nodes that KWOK manages: GPU nodes shaped like 8-GPU servers, and CPU-only nodes."""

from __future__ import annotations

from typing import Any

GPU_PRODUCT = "NVIDIA-H100-80GB-HBM3"
ZONES = ("local-a", "local-b")


def _node(
    name: str, index: int, instance_type: str, capacity: dict[str, str], extra_labels: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "lepton.ai/node-kind": "simulated",
                "node.kubernetes.io/instance-type": instance_type,
                "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
                **extra_labels,
            },
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def gpu_node(index: int, gpus: int) -> dict[str, Any]:
    return _node(
        f"lepton-gpu-{index}",
        index,
        f"sim.{gpus}x-h100",
        {
            "cpu": "96",
            "memory": "1Ti",
            "pods": "110",
            "ephemeral-storage": "1Ti",
            "nvidia.com/gpu": str(gpus),
        },
        {
            "nvidia.com/gpu.product": GPU_PRODUCT,
            "nvidia.com/gpu.count": str(gpus),
            "nvidia.com/gpu.present": "true",
        },
    )


def cpu_node(index: int) -> dict[str, Any]:
    return _node(
        f"lepton-cpu-{index}",
        index,
        "sim.cpu-32",
        {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "512Gi"},
        {},
    )


def node_list(gpu_nodes: int, gpus_per_node: int, cpu_nodes: int) -> list[dict[str, Any]]:
    return [gpu_node(i, gpus_per_node) for i in range(gpu_nodes)] + [cpu_node(i) for i in range(cpu_nodes)]
