"""The operator's connection to the API server: raw JSON requests on the kubernetes client's
configuration (kubeconfig or in-cluster), run on a small thread pool so handlers stay async.

Objects travel as plain dicts: the operator builds them as dicts and the typed client's models would
only add a conversion (and drop fields it does not know) on every request.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

REQUEST_TIMEOUT = 30.0


class RequestObserver(Protocol):
    def __call__(self, verb: str, resource: str, status: int) -> None: ...


def _ignore(verb: str, resource: str, status: int) -> None:
    return None


def load_configuration(kubeconfig: str | None) -> client.Configuration:
    """From an explicit kubeconfig, else $KUBECONFIG / ~/.kube/config, else the in-cluster account."""
    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    default = os.path.expanduser("~/.kube/config")
    if path or os.path.exists(default):
        config.load_kube_config(config_file=path or default, client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return configuration


@dataclass
class Kube:
    api: client.ApiClient
    executor: ThreadPoolExecutor
    observe: RequestObserver = field(default=_ignore)

    @classmethod
    def connect(
        cls, kubeconfig: str | None = None, *, workers: int = 16, observe: RequestObserver | None = None
    ) -> Kube:
        configuration = load_configuration(kubeconfig)
        configuration.connection_pool_maxsize = workers
        api = client.ApiClient(configuration)
        api.user_agent = "lepton-operator"
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube")
        return cls(api=api, executor=executor, observe=observe or _ignore)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.api.close()  # type: ignore[no-untyped-call]

    def request_sync(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request; the decoded JSON answer, or ApiException for any non-2xx status, and with
        status 0 when no answer came (refused, reset or timed out), which callers retry like a 503
        (kube.errors): a transport error must not escape as an exception no controller expects."""
        resource = _resource_of(path)
        verb = method.lower()
        _, url, headers, payload, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(
                method, url, header_params=headers, body=payload, _request_timeout=REQUEST_TIMEOUT
            )
            response.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:
            self.observe(verb, resource, int(exc.status or 0))
            raise
        except HTTPError as exc:
            self.observe(verb, resource, 0)
            raise ApiException(status=0, reason=f"no answer: {type(exc).__name__}: {exc}") from exc
        self.observe(verb, resource, int(response.status))
        if not 200 <= response.status < 300:
            raise ApiException(http_resp=response)
        data = response.data or b"{}"
        decoded = json.loads(data)
        return decoded if isinstance(decoded, dict) else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        call: Callable[[], dict[str, Any]] = lambda: self.request_sync(  # noqa: E731
            method, path, body=body, query=query, content_type=content_type
        )
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


def _resource_of(path: str) -> str:
    """The resource a path addresses (for request metrics): "pods", "trainingjobs/status", ..."""
    parts = [p for p in path.split("?", maxsplit=1)[0].split("/") if p]
    if "namespaces" in parts:
        i = parts.index("namespaces")
        rest = parts[i + 2 :]
        if not rest:
            return "namespaces"
        return rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
    return parts[-1] if parts else ""


def credentials_of(kube: Kube) -> dict[str, Any]:
    """The connection settings of ``kube`` as keyword arguments for kopf.ConnectionInfo, so kopf's
    own watches use exactly the credentials the operator was configured with."""
    cfg = kube.api.configuration
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization")
    parts = header.split(" ", 1) if header else []
    scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] if parts else None)
    return {
        "server": cfg.host,
        "ca_path": cfg.ssl_ca_cert,
        "insecure": not cfg.verify_ssl,
        "username": cfg.username or None,
        "password": cfg.password or None,
        "scheme": scheme,
        "token": token,
        "certificate_path": cfg.cert_file,
        "private_key_path": cfg.key_file,
    }
