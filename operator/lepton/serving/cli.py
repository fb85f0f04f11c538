"""``lepton-serve``: serve a model artifact over OIP v2, verify one (``--verify``), or fetch one.

lepton-serve --model-dir DIR --model-name NAME [--model-version V] [--host H] [--port P]
             [--max-batch-size N] [--max-latency-ms MS] [--no-batching] [--device auto|cpu|cuda]
             [--token-file PATH ...] [--token-poll-s S]
lepton-serve --verify (--model-dir DIR | --source URI [--pvc-root DIR]) [--expect-digest D]
lepton-serve fetch --source URI --dest DIR [--pvc-root DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lepton.serving import fetch as fetch_command
from lepton.serving.loop import event_loop_runner
from lepton.serving.termination import write_termination_message


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lepton-serve", description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="artifact directory (manifest.json and model file)")
    parser.add_argument("--model-name", help="name the model is served under")
    parser.add_argument("--model-version", default="1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-latency-ms", type=float, default=5.0, help="longest wait for a batch to fill")
    parser.add_argument("--no-batching", action="store_true", help="run each request on its own")
    parser.add_argument("--device", default="auto", help="auto (GPU when available), cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--max-body-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--load-wait-s", type=float, default=30.0, help="how long requests wait for loading")
    parser.add_argument("--drain-delay-s", type=float, default=0.0, help="keep accepting after SIGTERM")
    parser.add_argument(
        "--drain-timeout-s", type=float, default=30.0, help="bound on finishing in-flight work"
    )
    parser.add_argument(
        "--token-file",
        action="append",
        default=[],
        help="file of API tokens, one a line (repeatable); requests then need Authorization: Bearer",
    )
    parser.add_argument("--token-poll-s", type=float, default=2.0, help="how often token files are re-read")
    parser.add_argument("--verify", action="store_true", help="load and warm up the model, then exit")
    parser.add_argument("--source", help="with --verify: fetch the artifact from this URI first")
    parser.add_argument(
        "--pvc-root", default=os.environ.get("LEPTON_PVC_ROOT", fetch_command.DEFAULT_PVC_ROOT)
    )
    parser.add_argument("--expect-digest", help="with --verify: the digest the artifact must have")
    parser.add_argument("--log-level", default=os.environ.get("LEPTON_LOG_LEVEL", "INFO"))
    return parser


def _set_threads(threads: int) -> None:
    if threads > 0:
        import torch  # noqa: PLC0415 - torch loads slowly; fetch never needs it

        torch.set_num_threads(threads)


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from lepton.serving.server import LoadFailed, ServerConfig, run_server  # noqa: PLC0415

    if not args.model_dir or not args.model_name:
        parser.error("serving needs --model-dir and --model-name")
    if args.max_batch_size < 1:
        parser.error("--max-batch-size must be at least 1")
    if args.token_poll_s <= 0:
        parser.error("--token-poll-s must be above 0")
    config = ServerConfig(
        model_dir=Path(args.model_dir),
        model_name=args.model_name,
        model_version=args.model_version,
        host=args.host,
        port=args.port,
        max_batch_size=args.max_batch_size,
        max_latency_ms=args.max_latency_ms,
        batching=not args.no_batching,
        device=args.device,
        max_body_bytes=args.max_body_bytes,
        load_wait_s=args.load_wait_s,
        drain_delay_s=args.drain_delay_s,
        drain_timeout_s=args.drain_timeout_s,
        token_files=tuple(args.token_file),
        token_poll_s=args.token_poll_s,
    )
    try:
        event_loop_runner()(run_server(config))
    except LoadFailed as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        write_termination_message({"ready": False, "reason": str(exc)})
        return _exit_now(1)
    return _exit_now(0)


def _exit_now(code: int) -> int:
    """Exit without tearing down the interpreter: freeing torch.export graphs takes seconds, and
    after a drain nothing is left to clean up, while the pod's grace period keeps counting."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fetch"]:
        return fetch_command.main(argv[1:])
    # Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. Between small
    # batches spinning threads burn the cores the event loop needs (measured: 3-5x the CPU per
    # request at concurrency 8). A value set in the environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _set_threads(args.threads)
    if args.verify:
        from lepton.serving.verify import run_verify  # noqa: PLC0415

        return run_verify(
            model_dir=args.model_dir,
            source=args.source,
            pvc_root=args.pvc_root,
            device=args.device,
            expect_digest=args.expect_digest,
        )
    return _serve(args, parser)


if __name__ == "__main__":
    sys.exit(main())
