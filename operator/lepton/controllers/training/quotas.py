"""Pure: ClusterQueues and ResourceQuotas reduced to what admission reads (kopf index values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lepton.api.clusterqueue import ClusterQueue, QueueingStrategy
from lepton.policies.queues import GPU_QUOTA, QueuePolicy, Quota


def queue_policy(body: Mapping[str, Any]) -> QueuePolicy | None:
    """The queue a ClusterQueue defines; None for one the API server should have refused."""
    try:
        queue = ClusterQueue.model_validate(dict(body))
    except ValueError:
        return None
    spec = queue.spec
    return QueuePolicy(
        name=queue.name,
        strict=spec.queueing_strategy is QueueingStrategy.STRICT_FIFO,
        nominal_gpus=spec.nominal_quota.gpus if spec.nominal_quota is not None else None,
        reservation_after=float(spec.reservation_after_seconds),
    )


def _count(amounts: Mapping[str, Any], key: str) -> int | None:
    value = amounts.get(key)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None  # a fractional or suffixed count of GPUs or pods: not one we can compare


def resource_quota(body: Mapping[str, Any]) -> Quota | None:
    """GPU and pod limits of a ResourceQuota, or None when it limits neither. A scoped quota
    (scopes, scopeSelector) applies only to some pods: it is left out rather than guessed at."""
    spec, status, meta = body.get("spec") or {}, body.get("status") or {}, body.get("metadata") or {}
    if spec.get("scopes") or spec.get("scopeSelector"):
        return None
    hard = spec.get("hard") or {}
    used = status.get("used") or {}
    gpus, pods = _count(hard, GPU_QUOTA), _count(hard, "pods")
    if gpus is None and pods is None:
        return None
    return Quota(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        gpus_hard=gpus,
        gpus_used=_count(used, GPU_QUOTA) or 0,
        pods_hard=pods,
        pods_used=_count(used, "pods") or 0,
    )
