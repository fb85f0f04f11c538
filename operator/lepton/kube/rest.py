"""A small synchronous client of the Kubernetes REST API on the standard library (http.client, ssl),
for the `lepton` command and the Python client: JSON requests, watches and log streams.

The operator keeps `kube.client` (the `kubernetes` package, thread pool, kopf's credentials); this
one exists because a command line cannot afford the `kubernetes` import (about 0.6 s).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lepton.kube.kubeconfig import Credentials

MERGE_PATCH = "application/merge-patch+json"
USER_AGENT = "lepton-cli"


class ApiError(Exception):
    """A non-2xx answer: the HTTP status and the API server's Status message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class Unreachable(Exception):
    """The API server (or a service behind it) could not be reached at all."""


def ssl_context(creds: Credentials) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=creds.ca_file, cadata=_text(creds.ca_data))
    if creds.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if creds.cert_file and creds.key_file:
        context.load_cert_chain(creds.cert_file, creds.key_file)
    elif creds.cert_data and creds.key_data:
        # ssl loads a client certificate only from files: write them to private temporary ones.
        with tempfile.TemporaryDirectory(prefix="lepton-") as folder:
            cert, key = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
            for path, data in ((cert, creds.cert_data), (key, creds.key_data)):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
                    out.write(data)
            context.load_cert_chain(cert, key)
    return context


def _text(data: bytes | None) -> str | None:
    return data.decode() if data else None


def error_of(status: int, reason: str, body: bytes) -> ApiError:
    """An ApiError carrying the message of a metav1.Status body (or the raw text)."""
    try:
        decoded = json.loads(body)
        message = str(decoded.get("message") or body.decode(errors="replace"))
    except (ValueError, AttributeError):
        message = body.decode(errors="replace").strip()
    return ApiError(status, reason, message[:2000])


@dataclass
class Rest:
    """One API server. Each call opens its own connection, so watches and log streams of several
    pods can run on threads side by side."""

    creds: Credentials
    timeout: float = 30.0

    def __post_init__(self) -> None:
        url = urllib.parse.urlsplit(self.creds.server)
        self._https = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._https else 80)
        self._prefix = url.path.rstrip("/")
        self._context = ssl_context(self.creds) if self._https else None

    @property
    def namespace(self) -> str:
        return self.creds.namespace

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._context)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _headers(self, content_type: str | None, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        token = self.creds.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.creds.username is not None:
            import base64  # noqa: PLC0415 - basic auth is rare

            pair = f"{self.creds.username}:{self.creds.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return headers

    def _open(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        target = self._prefix + path + ("?" + urllib.parse.urlencode(query) if query else "")
        connection = self._connection(self.timeout if timeout is None else timeout)
        try:
            connection.request(
                method, target, body=body, headers={**self._headers(content_type, accept), **(headers or {})}
            )
            return connection, connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise Unreachable(f"cannot reach the API server at {self.creds.server}: {exc}") from None

    def raw(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Status and body of one request, whatever the status (for the service proxy)."""
        connection, response = self._open(
            method, path, query=query, body=body, content_type=content_type, accept="*/*", headers=headers
        )
        try:
            return response.status, response.read()
        finally:
            connection.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One JSON request; the decoded answer, or ApiError for any non-2xx status."""
        payload = None if body is None else json.dumps(body).encode()
        connection, response = self._open(
            method, path, query=query, body=payload, content_type=content_type if payload else None
        )
        try:
            data = response.read()
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise error_of(response.status, response.reason, data)
        decoded = json.loads(data or b"{}")
        return decoded if isinstance(decoded, dict) else {}

    def get(self, path: str, **query: str) -> dict[str, Any]:
        return self.request("GET", path, query=query or None)

    def lines(self, path: str, query: Mapping[str, str] | None = None) -> Iterator[bytes]:
        """The lines of a streamed answer (a watch, a followed log) until the server ends it.

        No read timeout: a quiet log or watch is not an error (watches end by their timeoutSeconds).
        """
        connection, response = self._open("GET", path, query=query, accept="*/*", timeout=None)
        try:
            if not 200 <= response.status < 300:
                raise error_of(response.status, response.reason, response.read())
            while line := response.readline():
                yield line
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"the stream {path} broke: {exc}") from None
        finally:
            connection.close()

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 60, field_selector: str = ""
    ) -> Iterator[dict[str, Any]]:
        """Watch events ({type, object}) of a collection from ``resource_version``."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if field_selector:
            query["fieldSelector"] = field_selector
        for line in self.lines(path, query):
            if line.strip():
                yield json.loads(line)
