"""Mapping Kubernetes API errors onto kopf's retry semantics."""

from __future__ import annotations

import json

import kopf
from kubernetes.client.exceptions import ApiException

# Worth retrying: throttled, server trouble, or a write that lost a race (conflict / timeout).
RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def message_of(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or exc.status)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or exc.status)


def to_kopf(exc: ApiException, what: str) -> kopf.TemporaryError | kopf.PermanentError:
    """A kopf error for a failed request: temporary (retried with a delay) or permanent."""
    status = int(exc.status or 0)
    text = f"{what}: HTTP {status}: {message_of(exc)}"
    if status in RETRYABLE or status == 0:
        delay = 1.0 if status == 409 else 5.0
        return kopf.TemporaryError(text, delay=delay)
    return kopf.PermanentError(text)
