"""What API tokens cost the model server: the same model with and without ``--token-file``, same run.

    .venv/bin/python bench/bench_serving_auth.py [--rounds 5] [--concurrency 1 8] [--duration 5]

Two `lepton-serve --no-batching` processes on one model (the built-in example, trained first unless
``--model-dir`` names an artifact): one open, one requiring a token from a file of two (a rotation
in progress: every request is compared with both). Both are pinned to one core, the client to the
others, and measured in interleaved rounds (open, token, open, token...) with bench_serving's
keep-alive client; the authenticated one gets the right ``Authorization: Bearer`` on every request.
Prints req/s, p50 and the server's CPU per request, the token/open ratios (medians over the rounds),
and the cost of the check itself in-process (header parse + digest + two constant-time compares).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import timeit
from contextlib import ExitStack
from pathlib import Path

from bench_serving import BIN, Result, example_artifact, measure, running
from lepton.serving.auth import TokenSet, bearer_token
from support.ports import free_port


def check_cost_us(token: str) -> float:
    """Microseconds of one accepted check, best of 5 runs of 20,000."""
    tokens = TokenSet.of([secrets.token_urlsafe(32).encode(), token.encode()])
    header = f"Bearer {token}"

    def check() -> None:
        presented = bearer_token(header)
        assert presented is not None
        assert tokens.accepts(presented)

    return min(timeit.repeat(check, number=20_000, repeat=5)) / 20_000 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--duration", type=float, default=5.0, help="time limit per measurement (s)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; figures are medians")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--model-dir", type=Path, help="an artifact to serve (default: train the example)")
    args = parser.parse_args()

    token = secrets.token_urlsafe(32)
    cores = sorted(os.sched_getaffinity(0))
    pin = len(cores) >= 2
    prefix = ["taskset", "-c", str(cores[0])] if pin else []
    env = {"OMP_NUM_THREADS": "1"}
    if pin:
        os.sched_setaffinity(0, set(cores[1:]))
    with tempfile.TemporaryDirectory(prefix="lepton-bench-auth-") as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        model_dir = args.model_dir or example_artifact(workdir)
        token_file = workdir / "tokens"
        token_file.write_text(f"{secrets.token_urlsafe(32)}\n{token}\n")
        base = [str(BIN / "lepton-serve"), "--model-dir", str(model_dir), "--model-name", "example"]
        base += ["--device", "cpu", "--no-batching"]
        commands = {"open": base, "token": [*base, "--token-file", str(token_file)]}
        headers = {"open": "", "token": f"Authorization: Bearer {token}\r\n"}
        served = {}
        for name, command in commands.items():
            port = free_port()
            served[name] = stack.enter_context(
                running(name, [*prefix, *command, "--port", str(port)], port, workdir, env)
            )
        results: dict[tuple[str, int], list[Result]] = {}
        for round_ in range(args.rounds):
            for concurrency in args.concurrency:
                for name, server in served.items():
                    result = measure(name, server, concurrency, args, headers[name])
                    assert result.errors == 0, f"{name}: {result.errors} requests failed"
                    results.setdefault((name, concurrency), []).append(result)
                    print(
                        f"round {round_ + 1} {name:5} c={concurrency:<3} {result.rps:7.0f} req/s  "
                        f"p50 {result.p50_ms:6.3f} ms  cpu {result.cpu_us_per_request:5.0f} us/req",
                        flush=True,
                    )
    print(f"\nthe check alone, in-process: {check_cost_us(token):.2f} us (header, digest, 2 compares)")
    print("medians over rounds; ratio = token / open (req/s: 1.0 is no cost; p50 and CPU: lower is better)")
    print("concurrency | open req/s | token req/s | req/s ratio | p50 ratio | CPU us/req open/token")
    for concurrency in args.concurrency:
        open_, auth = results[("open", concurrency)], results[("token", concurrency)]

        def med(runs: list[Result], attr: str) -> float:
            return statistics.median(getattr(r, attr) for r in runs)

        print(
            f"{concurrency:11} | {med(open_, 'rps'):10.0f} | {med(auth, 'rps'):11.0f} | "
            f"{med(auth, 'rps') / med(open_, 'rps'):11.3f} | "
            f"{med(auth, 'p50_ms') / med(open_, 'p50_ms'):9.3f} | "
            f"{med(open_, 'cpu_us_per_request'):.0f} / {med(auth, 'cpu_us_per_request'):.0f}"
        )
        # Per-round pairs: how much the machine's noise moves the ratio.
        pairs = [a.rps / o.rps for o, a in zip(open_, auth, strict=True)]
        print(f"{'':11}   per-round req/s ratios: {', '.join(f'{p:.3f}' for p in pairs)}")


if __name__ == "__main__":
    main()
