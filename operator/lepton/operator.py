"""The operator process: settings, the API connection, metrics, and kopf configured once at startup."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from lepton.api.common import GROUP
from lepton.controllers.memo import Memo, build_memo
from lepton.kube.client import credentials_of
from lepton.settings import Settings

log = logging.getLogger("lepton.operator")


class OwnKindsDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's last-handled-configuration, built only for the operator's own kinds.

    kopf builds the essence of every object of every watched kind on every event (a deep copy of
    the whole body, status included) although only kinds with create/update handlers use it. Pods
    and nodes have index and event handlers only, and at a thousand nodes and their pods those
    copies were the largest single cost of the operator's event loop.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        if not str(body.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return kopf.BodyEssence()
        return super().build(body=body, extra_fields=extra_fields)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Memo, **_: Any) -> None:
    ours = memo.settings
    settings.persistence.finalizer = ours.finalizer
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="lepton.ai")
    settings.persistence.diffbase_storage = OwnKindsDiffBase(
        prefix="lepton.ai", key="last-handled-configuration"
    )
    # The controller posts its own Events for every transition; kopf's per-handler chatter would
    # cost API requests and say nothing users need.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.execution.max_workers = ours.api_workers
    if ours.peering is None:
        settings.peering.standalone = True
    else:
        settings.peering.name = ours.peering
        settings.peering.mandatory = True
        settings.peering.priority = ours.peering_priority
        settings.peering.lifetime = ours.peering_lifetime_seconds
        settings.peering.clusterwide = ours.clusterwide
    if ours.metrics_port:
        memo.metrics.serve(ours.metrics_host, ours.metrics_port)
    if ours.activation_port:
        await memo.activation.start(ours.activation_host or ours.metrics_host, ours.activation_port)
    log.info(
        "lepton operator started",
        extra={"namespaces": list(ours.namespaces) or "all", "metrics_port": ours.metrics_port},
    )


@kopf.on.login()
def login(memo: Memo, **_: Any) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(**credentials_of(memo.kube))


@kopf.on.cleanup()
async def shutdown(memo: Memo, **_: Any) -> None:
    if memo.settings.activation_port:
        await memo.activation.stop()
    await memo.training.tasks.close()
    await memo.serving.close()
    memo.kube.close()


def configure_logging(settings: Settings) -> None:
    fmt = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(
        debug=settings.log_level == "debug", quiet=settings.log_level in ("warning", "error"), log_format=fmt
    )
    if settings.log_level != "debug":
        # kopf logs every handler call at INFO (one line per pod event at scale); the controller
        # logs each job transition itself, and the probes' access log says nothing useful.
        for name in ("kopf.objects", "aiohttp.access"):
            logging.getLogger(name).setLevel(logging.WARNING)


def run(settings: Settings) -> None:
    """Run the operator until SIGINT/SIGTERM."""
    # Importing registers the handlers and indices with kopf.
    import lepton.controllers.serving.autoscaler  # noqa: PLC0415
    import lepton.controllers.serving.handlers  # noqa: PLC0415
    import lepton.controllers.serving.indices  # noqa: PLC0415
    import lepton.controllers.training.handlers  # noqa: PLC0415
    import lepton.controllers.training.indices  # noqa: PLC0415

    if settings.peering is not None:
        # kopf stops its daemons while peering pauses this replica (controllers.training.tasks).
        import lepton.controllers.training.daemons  # noqa: F401, PLC0415

    configure_logging(settings)
    memo = build_memo(settings)
    liveness = (
        f"http://{settings.metrics_host}:{settings.health_port}/healthz" if settings.health_port else None
    )
    asyncio.run(
        kopf.operator(
            clusterwide=settings.clusterwide,
            namespaces=list(settings.namespaces),
            standalone=settings.peering is None,
            peering_name=settings.peering,
            liveness_endpoint=liveness,
            memo=memo,
        )
    )
