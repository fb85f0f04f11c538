"""kopf's memo: what every handler of this operator process shares. kopf gives each object a shallow
copy, so the fields are shared. Every field is built before kopf starts; handlers read only their own
family's part (HasTraining, HasServing), so the families never import each other."""

from __future__ import annotations

import time
from dataclasses import dataclass

from lepton.controllers.serving.activation import Endpoint
from lepton.controllers.serving.context import Serving
from lepton.controllers.training.context import Training
from lepton.kube.client import Kube
from lepton.kube.resources import Discovery
from lepton.metrics import Metrics
from lepton.settings import Settings


@dataclass
class Memo:
    kube: Kube
    settings: Settings
    metrics: Metrics
    training: Training
    serving: Serving
    activation: Endpoint
    """The activation endpoint (started by lepton.operator's startup when its port is set)."""


def build_memo(settings: Settings) -> Memo:
    metrics = Metrics()
    kube = Kube.connect(settings.kubeconfig, workers=settings.api_workers, observe=metrics.observe_request)
    discovery = Discovery(kube)
    training = Training(kube=kube, settings=settings, metrics=metrics, discovery=discovery, clock=time.time)
    serving = Serving(kube=kube, config=settings.serving, metrics=metrics, discovery=discovery)
    return Memo(
        kube=kube,
        settings=settings,
        metrics=metrics,
        training=training,
        serving=serving,
        activation=Endpoint(serving.activations),
    )
