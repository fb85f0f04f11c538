"""``lepton-activator``: hold requests for a scaled-to-zero InferenceService until a replica is ready.

lepton-activator --service NAME --namespace NS --backend URL --activate-url URL [--port 8080]
                 [--host 0.0.0.0] [--queue-size 100] [--timeout-seconds 60]
                 [--ready-path /v2/health/ready] [--poll-interval 0.25] [--max-body-bytes N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from lepton.activator.control import ActivatorConfig
from lepton.activator.server import run_activator
from lepton.serving.loop import event_loop_runner


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lepton-activator", description=__doc__.splitlines()[0])
    parser.add_argument("--service", required=True, help="the InferenceService's name")
    parser.add_argument("--namespace", required=True, help="the InferenceService's namespace")
    parser.add_argument("--backend", required=True, help="base URL of the model servers' private Service")
    parser.add_argument("--activate-url", required=True, help="the operator's activation endpoint")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--queue-size", type=int, default=100, help="most requests held at once")
    parser.add_argument("--timeout-seconds", type=float, default=60.0, help="longest a request is held")
    parser.add_argument("--ready-path", default="/v2/health/ready", help="the backend's readiness path")
    parser.add_argument("--poll-interval", type=float, default=0.25, help="seconds between readiness probes")
    parser.add_argument("--max-body-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument(
        "--drain-delay-s", type=float, default=0.0, help="keep accepting after SIGTERM (readiness false)"
    )
    parser.add_argument("--log-level", default=os.environ.get("LEPTON_LOG_LEVEL", "INFO"))
    return parser


def config_from_args(argv: Sequence[str]) -> ActivatorConfig:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.queue_size < 1:
        parser.error("--queue-size must be at least 1")
    if args.timeout_seconds <= 0 or args.poll_interval <= 0:
        parser.error("--timeout-seconds and --poll-interval must be positive")
    if args.drain_delay_s < 0:
        parser.error("--drain-delay-s must not be negative")
    if not args.ready_path.startswith("/"):
        parser.error("--ready-path must start with /")
    for flag, url in (("--backend", args.backend), ("--activate-url", args.activate_url)):
        if not url.startswith(("http://", "https://")):
            parser.error(f"{flag} must be an http(s) URL")
    return ActivatorConfig(
        service=args.service,
        namespace=args.namespace,
        backend=args.backend,
        activate_url=args.activate_url,
        host=args.host,
        port=args.port,
        queue_size=args.queue_size,
        timeout_s=args.timeout_seconds,
        ready_path=args.ready_path,
        poll_interval_s=args.poll_interval,
        max_body_bytes=args.max_body_bytes,
        drain_delay_s=args.drain_delay_s,
        log_level=args.log_level.upper(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = config_from_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    event_loop_runner()(run_activator(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
