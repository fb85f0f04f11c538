"""The Open Inference Protocol v2 endpoint of one model: what `lepton predict` and
`InferenceService.predict` send requests through.

How a request reaches the model server: with ``url`` (a Gateway hostname, a port-forward, a
server run by hand) straight there; otherwise through the API server's service proxy
(/api/v1/namespaces/NS/services/NAME:http/proxy/...), which works from a laptop with nothing but a
kubeconfig (RBAC: get/create on services/proxy). The proxy authenticates the caller itself and
drops the Authorization header, so a service token needs ``url``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from lepton.client import oip
from lepton.client.cluster import Cluster
from lepton.client.errors import LeptonError, UsageError

TOKEN_ENV = "LEPTON_TOKEN"  # noqa: S105 - the variable's name, not a token
PORT_NAME = "http"


def _direct(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - user's URL
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise LeptonError(f"cannot reach {url}: {exc}", "check --url and that the server runs") from None


class Endpoint:
    """One model's OIP endpoint: a direct URL or a Service behind the API server's proxy."""

    def __init__(
        self, model: str, *, url: str | None = None, cluster: Cluster | None = None, service: str = "",
        token: str | None = None,
    ) -> None:  # fmt: skip
        self.model, self.url, self.cluster, self.service = model, (url or "").rstrip("/"), cluster, service
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        if self.token and not self.url:
            raise UsageError(
                "a token cannot travel through the API server's service proxy (it drops Authorization)",
                "pass --url with the service's external address (its Gateway hostname)",
            )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.url:
            status, data = _direct(method, self.url + path, payload, headers)
        else:
            assert self.cluster is not None
            target = (
                f"/api/v1/namespaces/{self.cluster.namespace}/services/{self.service}:{PORT_NAME}/proxy{path}"
            )
            status, data = self.cluster.call(
                f"service {self.service}",
                lambda: self.cluster.rest.raw(method, target, body=payload, headers=headers),  # type: ignore[union-attr]
            )
        return _answer(status, data, self.token is not None)

    def metadata(self) -> dict[str, Any]:
        return self.call("GET", f"/v2/models/{self.model}")

    def infer(self, inputs: oip.Array | Mapping[str, oip.Array] | dict[str, Any]) -> dict[str, Any]:
        """Send inputs (arrays, or a whole OIP request dict) and return the OIP response."""
        if isinstance(inputs, dict) and "inputs" in inputs:
            body = inputs
        else:
            body = oip.request_body(inputs, self.metadata())
        return self.call("POST", f"/v2/models/{self.model}/infer", body)


def _answer(status: int, data: bytes, had_token: bool) -> dict[str, Any]:
    try:
        decoded = json.loads(data) if data else {}
    except ValueError:
        decoded = {"error": data.decode(errors="replace")[:500]}
    if 200 <= status < 300:
        return decoded if isinstance(decoded, dict) else {}
    message = decoded.get("error") or decoded.get("message") or str(decoded)[:500]
    if status in (401, 403):
        hint = "the token was refused" if had_token else f"pass --token or set {TOKEN_ENV}"
        raise LeptonError(f"the service refused the request ({status}): {message}", hint)
    if status == 503:
        raise LeptonError(f"the service is not ready ({message})", "`lepton describe lisvc/NAME` says why")
    if status == 404:
        raise LeptonError(f"not found ({message})", "check the model name; is the service Ready?")
    raise LeptonError(
        f"the model refused the request ({status}): {message}", "check the input's shape and type"
    )
