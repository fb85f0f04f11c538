"""The Prometheus client against a real HTTP(S) server on loopback serving canned API answers.

Every outcome must be a classified value: the table compares whole results, and the transport cases
(timeout, refused connection, TLS) check that no exception escapes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from lepton.policies.metric_result import Empty, Error, MetricResult, NotFinite, Value
from lepton.prom.client import CaBundle, PrometheusClient


def success(kind: str, result: Any) -> tuple[int, bytes]:
    return 200, json.dumps({"status": "success", "data": {"resultType": kind, "result": result}}).encode()


def series(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1700000000.0, value]}


@dataclass
class Canned:
    answers: dict[str, tuple[int, bytes]]
    authorization: list[str | None] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.authorization.append(request.headers.get("Authorization"))
        query = request.query.get("query", "")
        if query == "hang":
            await self.release.wait()  # set by the test once the client has given up
        status, body = self.answers.get(query, (404, b"no canned answer"))
        return web.Response(status=status, body=body, content_type="application/json")


@asynccontextmanager
async def serve(canned: Canned, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/v1/query", canned.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        canned.release.set()
        await runner.cleanup()


ANSWERS: dict[str, tuple[int, bytes]] = {
    "one": success("vector", [series("42", service="s")]),
    "scalar": success("scalar", [1700000000.0, "1.5"]),
    "none": success("vector", []),
    "nan": success("vector", [series("NaN")]),
    "inf": success("vector", [series("+Inf")]),
    "two": success("vector", [series("1", pod="a"), series("2", pod="b")]),
    "matrix": success("matrix", [{"metric": {}, "values": [[1, "1"]]}]),
    "bad": (
        400,
        json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}).encode(),
    ),
    "slow": (
        503,
        json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out"}).encode(),
    ),
    "crash": (500, b"oops"),
    "garbled": (200, b"{not json"),
    "odd-sample": success("vector", [{"metric": {}, "value": [1, 2]}]),
}

CASES = [
    ("one series", "one", Value(42.0)),
    ("a scalar", "scalar", Value(1.5)),
    ("no series", "none", Empty()),
    ("NaN", "nan", NotFinite("NaN")),
    ("+Inf", "inf", NotFinite("+Inf")),
    (
        "several series are an error, not a sum",
        "two",
        Error(
            'query returned 2 series ({pod="a"}, {pod="b"}); aggregate it to one, e.g. sum(...) or max(...)'
        ),
    ),
    ("a range vector", "matrix", Error("query returned a matrix, not an instant vector or scalar")),
    ("Prometheus bad_data", "bad", Error("Prometheus bad_data: parse error at char 4")),
    ("Prometheus timeout", "slow", Error("Prometheus timeout: query timed out")),
    ("HTTP 500 text", "crash", Error("HTTP 500, not JSON: oops")),
    ("HTTP 404", "unknown", Error("HTTP 404, not JSON: no canned answer")),
    ("bad JSON", "garbled", Error("HTTP 200, not JSON: {not json")),
    ("a sample value that is not text", "odd-sample", Error("malformed sample [1, 2]")),
]


def test_results_are_classified():
    async def scenario() -> list[MetricResult]:
        async with serve(Canned(ANSWERS)) as url, PrometheusClient(url) as prom:
            return [await prom.query(query) for _, query, _ in CASES]

    assert asyncio.run(scenario()) == [expected for _, _, expected in CASES]


def test_bearer_token_is_sent_only_when_given():
    canned = Canned(ANSWERS)

    async def scenario() -> None:
        async with serve(canned) as url:
            async with PrometheusClient(url, token="s3cret\n") as prom:  # a Secret's file may end in \n
                await prom.query("one")
            async with PrometheusClient(url) as prom:
                await prom.query("one")

    asyncio.run(scenario())
    assert canned.authorization == ["Bearer s3cret", None]


def test_timeout_is_an_error():
    async def scenario() -> tuple[str, MetricResult]:
        async with serve(Canned(ANSWERS)) as url, PrometheusClient(url, timeout_seconds=0.2) as prom:
            return url, await prom.query("hang")

    url, result = asyncio.run(scenario())
    assert result == Error(f"timed out after 0.2s querying {url}")


def test_refused_connection_is_an_error():
    # A bound socket that does not listen refuses connections, and keeps its port from being reused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

        async def scenario() -> MetricResult:
            async with PrometheusClient(f"http://127.0.0.1:{port}") as prom:
                return await prom.query("up")

        result = asyncio.run(scenario())
    assert isinstance(result, Error), result
    assert result.message.startswith(f"cannot query http://127.0.0.1:{port}: ClientConnectorError"), result


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a serving certificate for 127.0.0.1 (EC P-256, one day)."""
    d = tmp_path_factory.mktemp("pki")
    for name in ("ca", "server"):
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / f"{name}.key"))
    openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        str(d / "ca.key"),
        "-subj",
        "/CN=lepton-test-ca",
        "-days",
        "1",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
        "-out",
        str(d / "ca.crt"),
    )
    openssl(
        "req", "-new", "-key", str(d / "server.key"), "-subj", "/CN=127.0.0.1", "-out", str(d / "server.csr")
    )
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
        "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(d / "server.csr"),
        "-CA",
        str(d / "ca.crt"),
        "-CAkey",
        str(d / "ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        str(d / "server.ext"),
        "-out",
        str(d / "server.crt"),
    )
    return d


def tls_context(pki: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.crt", pki / "server.key")
    return context


@pytest.mark.parametrize("how", ["pem", "path"])
def test_https_with_a_ca_bundle(pki: Path, how: str):
    ca = CaBundle(pem=(pki / "ca.crt").read_text()) if how == "pem" else CaBundle(path=pki / "ca.crt")

    async def scenario() -> MetricResult:
        async with serve(Canned(ANSWERS), tls_context(pki)) as url, PrometheusClient(url, ca=ca) as prom:
            return await prom.query("one")

    assert asyncio.run(scenario()) == Value(42.0)


@pytest.mark.parametrize(
    ("scenario", "ca", "fragment"),
    [
        ("without the CA the certificate is not trusted", None, "CERTIFICATE_VERIFY_FAILED"),
        ("an unreadable CA bundle", CaBundle(pem="not a certificate"), "cannot query https://"),
        (
            "a CA bundle path that does not exist",
            CaBundle(path=Path("/nonexistent/ca.crt")),
            "FileNotFoundError",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_https_trust_failures_are_errors(pki: Path, scenario: str, ca: CaBundle | None, fragment: str):
    async def run() -> MetricResult:
        async with serve(Canned(ANSWERS), tls_context(pki)) as url, PrometheusClient(url, ca=ca) as prom:
            return await prom.query("one")

    result = asyncio.run(run())
    assert isinstance(result, Error), (scenario, result)
    assert fragment in result.message, (scenario, result)
