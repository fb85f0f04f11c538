"""The model server's lifecycle: listen, load in the background, serve, drain on SIGTERM.

Liveness answers as soon as the port is open; readiness only once the artifact is loaded, its
digest checked and a warm-up inference done. Requests that arrive earlier wait (bounded) for the
load. On SIGTERM or SIGINT readiness turns false first, requests keep being accepted for
``drain_delay_s`` (while endpoints controllers take the pod out of rotation), then the listener
closes and in-flight requests get up to ``drain_timeout_s`` to finish before the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from lepton.artifacts import ArtifactError
from lepton.serving.auth import DEFAULT_POLL_S, TokenFiles
from lepton.serving.dataplane import DataPlane, ServedModel
from lepton.serving.metrics import ServingMetrics
from lepton.serving.model import ModelRunner, load_runner
from lepton.serving.rest import TRACKER, create_app

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    model_dir: Path
    model_name: str
    model_version: str = "1"
    host: str = "127.0.0.1"
    port: int = 8080
    max_batch_size: int = 32
    max_latency_ms: float = 5.0
    batching: bool = True
    device: str = "auto"
    max_body_bytes: int = 64 * 1024 * 1024
    load_wait_s: float = 30.0
    drain_delay_s: float = 0.0
    drain_timeout_s: float = 30.0
    token_files: tuple[str, ...] = ()
    """Files of API tokens (a mounted Secret's keys); none: the endpoint is open."""
    token_poll_s: float = DEFAULT_POLL_S


class LoadFailed(Exception):
    """The model could not be loaded; the server exits non-zero with this reason."""


def _load(config: ServerConfig) -> ModelRunner:
    runner = load_runner(config.model_dir, config.device)
    seconds = runner.warm_up(config.max_batch_size if config.batching else 1)
    log.info("warm-up inference took %.3fs", seconds)
    return runner


async def run_server(config: ServerConfig) -> None:
    """Serve until SIGTERM/SIGINT; raises LoadFailed when the model cannot be loaded."""
    loop = asyncio.get_running_loop()
    metrics = ServingMetrics()
    dataplane = DataPlane(metrics)
    model = ServedModel(
        config.model_name,
        config.model_version,
        metrics,
        max_batch_size=config.max_batch_size if config.batching else 1,
        max_latency_s=config.max_latency_ms / 1000 if config.batching else 0.0,
        load_wait_s=config.load_wait_s,
    )
    dataplane.add(model)
    auth = TokenFiles(config.token_files, config.token_poll_s) if config.token_files else None
    app = create_app(dataplane, max_body_bytes=config.max_body_bytes, auth=auth)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024, reuse_address=True)
    await site.start()
    log.info("listening on http://%s:%d", config.host, config.port)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # One thread loads the model and then runs every batch: torch state stays on one thread.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
    failure: str | None = None
    try:
        loading = loop.run_in_executor(executor, _load, config)
        stopped = asyncio.ensure_future(stop.wait())
        waiting: set[asyncio.Future[Any]] = {loading, stopped}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if loading.done():
            try:
                model.set_ready(loading.result(), executor)
                log.info("model %s version %s is ready", config.model_name, config.model_version)
            except ArtifactError as exc:
                failure = str(exc)
            except Exception as exc:  # any load failure ends the server with its reason
                failure = f"{type(exc).__name__}: {exc}"
            if failure is not None:
                model.set_failed(failure)
                stop.set()
        await stopped
        await _drain(config, dataplane, runner, site, app[TRACKER].idle)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        executor.shutdown(wait=False, cancel_futures=True)
    if failure is not None:
        raise LoadFailed(failure)


async def _drain(
    config: ServerConfig, dataplane: DataPlane, runner: web.AppRunner, site: web.TCPSite, idle: asyncio.Event
) -> None:
    dataplane.draining = True
    # A server that never got ready is in no endpoint list: nothing to wait for before closing.
    delay = config.drain_delay_s if all(model.ready for model in dataplane.models()) else 0.0
    log.info("draining: not ready; closing the listener in %gs", delay)
    if delay > 0:
        await asyncio.sleep(delay)
    start = time.monotonic()
    await site.stop()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(idle.wait(), config.drain_timeout_s)
    if not idle.is_set():
        log.warning("drain timeout of %gs passed with requests still in flight", config.drain_timeout_s)
    await runner.cleanup()
    log.info("drained in %.3fs", time.monotonic() - start)
