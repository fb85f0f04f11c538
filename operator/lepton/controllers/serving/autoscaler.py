"""The autoscaler: a kopf daemon per InferenceService with spec.autoscaling. Every pollSeconds, or at
once when an activator asks for a replica (controllers.serving.activation), it reads the metrics
(controllers.serving.metrics) and hands them to the service's reconcile, where the pure policy
decides the replicas, the Deployments are applied and the status is written once."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.inferenceservice import PLURAL, InferenceService
from lepton.controllers.kit.stopping import sleep_unless_stopped
from lepton.controllers.serving.indices import HasServing, Indices
from lepton.controllers.serving.inferenceservice import inferenceservice_key, reconcile_inference_service
from lepton.controllers.serving.metrics import read
from lepton.kube.errors import KubeError

log = logging.getLogger("lepton.autoscaler")

# How soon a round the API server refused is tried again.
RETRY_SECONDS = 5.0


def _autoscaled(spec: kopf.Spec, **_: Any) -> bool:
    return bool(spec.get("autoscaling"))


@kopf.daemon(
    GROUP,
    VERSION,
    PLURAL,
    id="autoscaler",
    when=_autoscaled,
    cancellation_backoff=2.0,
    cancellation_timeout=5.0,
    # A round that raised (a bug: refusals and lost connections are KubeError) is restarted after
    # this, with kopf's traceback in the log, not after kopf's default minute without scaling.
    backoff=RETRY_SECONDS,
)
async def autoscaler(body: kopf.Body, memo: HasServing, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """kopf keeps ``body`` current for daemons and stops this one when autoscaling is turned off.
    Each round reads the service as the last round wrote it when the watch has not delivered that
    yet: whether it is at zero decides what held requests count for (metrics.read)."""
    serving = memo.serving
    key = inferenceservice_key(body["metadata"])
    while not stopped:
        try:
            isvc = InferenceService.model_validate(dict(serving.objects.freshest(key, body)))
        except ValueError:
            return  # the API server admitted what the model refuses: nothing to scale on
        autoscaling = isvc.spec.autoscaling
        if autoscaling is None or body["metadata"].get("deletionTimestamp"):
            return
        delay = float(autoscaling.poll_seconds)
        try:
            held = serving.activations.take(key)
            readings = await read(isvc, serving, held=held)
            await reconcile_inference_service(body, serving, Indices.of(kwargs), readings)
        except KubeError as exc:
            log.warning("autoscaling round of %s/%s failed: %s", isvc.namespace, isvc.name, exc)
            delay = min(delay, RETRY_SECONDS)
        await sleep_unless_stopped(serving.activations.wait(key, delay), stopped.wait)
    serving.activations.forget(key)
