"""Serving benchmark: lepton-serve with and without batching against KServe's Python model server.

    .venv/bin/python bench/bench_serving.py [--requests 3000] [--duration 10] [--concurrency 1 8 64]

Serves one model (trained by the built-in example, lepton.runtime.examples.classifier, unless
``--model-dir`` names an artifact) on CPU with (a) lepton-serve with dynamic batching, (b)
lepton-serve ``--no-batching``, (c) KServe's ``kserve.ModelServer`` with the minimal model in
bench/serving_kserve_model.py. A bounded asyncio client on loopback sends one-row OIP v2 JSON
requests from N concurrent connections (a fixed request count, cut off at a time limit) and
prints requests/s and p50/p99 latency per server and concurrency, and lepton/KServe ratios.

KServe pins versions that conflict with this project's, so it runs from its own virtualenv
(``--kserve-venv``, made with ``pip install kserve`` when missing); torch comes from this
project's environment through a ``.pth`` file, so both servers run the same torch. The client
shares the machine's cores with the servers: compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.ports import free_port  # noqa: E402

T = TypeVar("T")
BIN = Path(sys.executable).parent
KSERVE_VENV = Path.home() / ".cache" / "lepton" / "bench-kserve-venv"


@dataclass(frozen=True)
class Served:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    server: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def example_artifact(workdir: Path) -> Path:
    out = workdir / "example"
    env = {
        **os.environ,
        "LEPTON_OUTPUT_DIR": str(out / "model"),
        "LEPTON_CHECKPOINT_DIR": str(out / "checkpoints"),
        "LEPTON_TERMINATION_MESSAGE_PATH": str(out / "termination-log"),
    }
    print("training the example model (lepton.runtime.examples.classifier) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "lepton.runtime.examples.classifier", "--epochs", "10", "--samples", "1024"],
        env=env, check=True, timeout=600, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out / "model"


def kserve_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating the KServe virtualenv in {venv} (pip install kserve) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "kserve"], check=True, timeout=1200)
    # torch for the KServe model comes from this environment, after KServe's own packages.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "zz-lepton-torch.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@contextmanager
def running(
    name: str, args: list[str], port: int, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[Served]:
    log = workdir / f"{name}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            args, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after 180s:\n{log.read_text()}")
            time.sleep(0.25)
        yield Served(url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def request_body() -> bytes:
    row = [0.1 * i for i in range(16)]
    return json.dumps(
        {"id": "bench", "inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": row}]}
    ).encode()


class Connection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less than the servers
    it measures (they share the machine's cores), and aiohttp's client costs about as much as a server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"response without Content-Length: {head!r}")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def http_request(host: str, port: int, body: bytes, headers: str = "") -> bytes:
    """``headers``: extra header lines, each ending in CRLF."""
    head = (
        f"POST /v2/models/example/infer HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load(
    url: str, concurrency: int, total: int, duration: float, warmup: int, headers: str = ""
) -> tuple[list[float], int, float]:
    host, port = url.removeprefix("http://").split(":")
    request = http_request(host, int(port), request_body(), headers)
    latencies: list[float] = []
    errors = 0
    connections = [await Connection.open(host, int(port)) for _ in range(concurrency)]

    async def worker(connection: Connection, count: int, deadline: float, record: bool) -> None:
        nonlocal errors
        for _ in range(count):
            now = time.perf_counter()
            if now > deadline:
                return
            status, _ = await asyncio.wait_for(connection.exchange(request), 30)
            if status != 200:
                errors += 1
            if record:
                latencies.append(time.perf_counter() - now)

    def shares(n: int) -> list[int]:
        return [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]

    try:
        await asyncio.gather(
            *(
                worker(c, n, time.perf_counter() + 30, False)
                for c, n in zip(connections, shares(warmup), strict=True)
            )
        )
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(
            *(worker(c, n, deadline, True) for c, n in zip(connections, shares(total), strict=True))
        )
        elapsed = time.perf_counter() - start
    finally:
        for connection in connections:
            connection.close()
    return latencies, errors, elapsed


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def measure(
    server: str, served: Served, concurrency: int, args: argparse.Namespace, headers: str = ""
) -> Result:
    warmup = max(50, concurrency * 4)
    cpu = served.cpu_seconds()
    latencies, errors, elapsed = run(
        load(served.url, concurrency, args.requests, args.duration, warmup, headers)
    )
    cpu_us = (served.cpu_seconds() - cpu) / (len(latencies) + warmup) * 1e6
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        server, concurrency, len(latencies), errors, elapsed, cuts[49] * 1000, cuts[98] * 1000, cpu_us
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--duration", type=float, default=5.0, help="time limit per measurement (s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--model-dir", type=Path, help="an artifact to serve (default: train the example)")
    parser.add_argument("--kserve-venv", type=Path, default=KSERVE_VENV)
    parser.add_argument("--skip-kserve", action="store_true")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin servers and client to separate cores"
    )
    args = parser.parse_args()

    # Servers on one core, the client on the others: the client's cost does not eat the servers'.
    # One torch thread then, as in a one-CPU pod (more would spin against each other on one core).
    cores = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cores) >= 2
    server_prefix = ["taskset", "-c", str(cores[0])] if pin else []
    server_env = {"OMP_NUM_THREADS": "1"} if pin else {}
    if pin:
        os.sched_setaffinity(0, set(cores[1:]))
    with tempfile.TemporaryDirectory(prefix="lepton-bench-serving-") as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        model_dir = args.model_dir or example_artifact(workdir)
        lepton = [
            str(BIN / "lepton-serve"),
            "--model-dir",
            str(model_dir),
            "--model-name",
            "example",
            "--device",
            "cpu",
        ]
        commands: dict[str, list[str]] = {
            "lepton-batching": [*lepton, "--max-batch-size", "32", "--max-latency-ms", "5"],
            "lepton-nobatch": [*lepton, "--no-batching"],
        }
        if not args.skip_kserve:
            kserve = [str(kserve_python(args.kserve_venv)), str(ROOT / "bench" / "serving_kserve_model.py")]
            commands["kserve"] = [*kserve, "--model_dir", str(model_dir), "--model_name", "example"]
        served: dict[str, Served] = {}
        for name, command in commands.items():
            port = free_port()
            port_args = ["--http_port", str(port)] if name == "kserve" else ["--port", str(port)]
            served[name] = stack.enter_context(
                running(name, [*server_prefix, *command, *port_args], port, workdir, server_env)
            )
        print(
            f"servers pinned to core {cores[0]}, client to {cores[1:]}" if pin else "no pinning", flush=True
        )
        results: dict[tuple[str, int], list[Result]] = {}
        for round_ in range(args.rounds):
            for concurrency in args.concurrency:
                for name, server in served.items():
                    result = measure(name, server, concurrency, args)
                    results.setdefault((name, concurrency), []).append(result)
                    print(
                        f"round {round_ + 1} {name:16} c={concurrency:<3} {result.rps:7.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"cpu {result.cpu_us_per_request:5.0f} us/req  "
                        f"({result.requests} requests, {result.errors} errors)",
                        flush=True,
                    )
    report({key: summarize(runs) for key, runs in results.items()}, args.concurrency)


@dataclass(frozen=True)
class Summary:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float


def summarize(runs: list[Result]) -> Summary:
    """Medians over the rounds: one noisy round (a busy shared machine) does not move them."""
    return Summary(
        statistics.median(r.rps for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        statistics.median(r.cpu_us_per_request for r in runs),
    )


HEADER = "concurrency | server          |   req/s |  p50 ms |  p99 ms | CPU us/req "
RATIOS = "| req/s ratio | p99 ratio | CPU ratio"


def report(results: dict[tuple[str, int], Summary], levels: list[int]) -> None:
    print("\nmedians over rounds; ratios are lepton / KServe (req/s: higher is better; p99 and CPU: lower)")
    print(HEADER + RATIOS)
    for concurrency in levels:
        base = results.get(("kserve", concurrency))
        for server in ("lepton-batching", "lepton-nobatch", "kserve"):
            r = results.get((server, concurrency))
            if r is None:
                continue
            figures = f"{r.rps:7.0f} | {r.p50_ms:7.2f} | {r.p99_ms:7.2f} | {r.cpu_us:10.0f}"
            ratios = ""
            if base is not None:
                rps, p99, cpu = r.rps / base.rps, r.p99_ms / base.p99_ms, r.cpu_us / base.cpu_us
                ratios = f" | {rps:10.2f}x | {p99:8.2f}x | {cpu:8.2f}x"
            print(f"{concurrency:11} | {server:15} | {figures}{ratios}")


if __name__ == "__main__":
    main()
