"""The activator in front of a model server that requires a token: a cold start holds the request
(the activator's readiness probe needs no token), the Authorization header reaches the server as
sent, the server's 401/403 come back unchanged, the activator's own endpoints stay open, and neither
process logs a token, even at DEBUG."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from activator_harness import FakeOperator, Process, infer_body, start_activator, start_backend

from support.ports import free_port

pytestmark = pytest.mark.slow

INFER = "/v2/models/example/infer"


def test_tokens_pass_through_the_activator_and_appear_in_no_log(
    artifact: Path, fake_operator: FakeOperator, processes: list[Process], tmp_path: Path
) -> None:
    good, wrong = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    token_file = tmp_path / "token-0"
    token_file.write_text(f"{good}\n")
    port = free_port()
    backend_args = ("--token-file", str(token_file), "--log-level", "DEBUG")
    # The backend starts only once the activator asks for it: a real cold start.
    fake_operator.on_first_call = lambda: processes.append(
        start_backend(artifact, port, tmp_path, *backend_args)
    )
    activator = start_activator(
        f"http://127.0.0.1:{port}", fake_operator.url, tmp_path, "--log-level", "DEBUG"
    )
    processes.append(activator)
    _, body = infer_body(2, seed=3)

    def infer(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{activator.url}{INFER}", content=body, headers=headers, timeout=120)

    first = infer({"Authorization": f"Bearer {good}"})  # held through the cold start, then forwarded
    assert first.status_code == 200, first.text
    assert first.json()["outputs"][0]["shape"] == [2, 4]
    assert fake_operator.calls  # the held request woke the service (reminders follow while it loads)

    refused = infer({})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="lepton-serve"'  # the server's, relayed
    assert infer({"Authorization": f"Bearer {wrong}"}).status_code == 403
    assert infer({"Authorization": f"bearer {good}"}).status_code == 200
    assert httpx.get(f"{activator.url}/-/activator/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{activator.url}/metrics", timeout=5).status_code == 200

    backend = processes[-1]
    for process in (activator, backend):
        process.stop()
    logs = {"activator": activator.output(), "backend": backend.output()}
    assert "API tokens loaded: 1 accepted" in logs["backend"]
    for name, text in logs.items():
        assert text, f"the {name} wrote no log: the grep below would prove nothing"
        for secret in (good, wrong):
            assert secret not in text, f"a token appears in the {name}'s log"
