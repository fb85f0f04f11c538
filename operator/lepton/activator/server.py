"""The activator's lifecycle: listen, hold and forward, drain on SIGTERM.

On SIGTERM or SIGINT readiness turns false and requests keep being accepted and forwarded for
``drain_delay_s``: the operator deletes the activator once the stable Service is seen selecting
the model servers, and kube-proxy (or another dataplane) may still route here for a moment; a
closed listener would refuse those connections. Then the listener closes, the backend is probed
once more, and every held request wakes: forwarded when a replica is ready (the common case),
otherwise answered 503 with Retry-After. Requests being forwarded get up to ``grace_s`` to finish;
then the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import aiohttp
from aiohttp import web

from lepton.activator.control import ActivatorConfig, Controller, loggable
from lepton.activator.metrics import ActivatorMetrics
from lepton.activator.proxy import create_app

log = logging.getLogger(__name__)


async def run_activator(config: ActivatorConfig) -> None:
    """Serve until SIGTERM/SIGINT, then drain."""
    loop = asyncio.get_running_loop()
    metrics = ActivatorMetrics(config.namespace, config.service)
    # No connection limit: the queue size bounds held requests, the backend bounds the rest.
    # No decompression: bodies pass through byte for byte, Content-Encoding and all.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        controller = Controller(config, metrics, session)
        runner = web.AppRunner(
            create_app(controller),
            access_log=None,
            handle_signals=False,
            # A client that disconnects cancels its handler, which frees its place in the queue.
            handler_cancellation=True,
            shutdown_timeout=config.grace_s,
        )
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, backlog=1024, reuse_address=True)
        await site.start()
        log.info(
            "activator for %s/%s listening on http://%s:%d; backend %s",
            config.namespace,
            config.service,
            config.host,
            config.port,
            loggable(config.backend),
        )
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        start = time.monotonic()
        controller.stopping = True
        log.info("stopping: not ready; closing the listener in %gs", config.drain_delay_s)
        await asyncio.sleep(config.drain_delay_s)
        log.info("draining: %d requests held", controller.gate.pending)
        await site.stop()
        await controller.drain()
        await runner.cleanup()  # waits up to grace_s for requests being forwarded
        await controller.close()
        log.info("drained in %.3fs", time.monotonic() - start)
