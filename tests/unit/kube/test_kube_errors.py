"""Which refusals of the API server are the user's configuration (reported, never retried) and which
are races or server trouble (retried after a delay)."""

from __future__ import annotations

import json

import kopf
import pytest
from kubernetes.client.exceptions import ApiException

from lepton.controllers.kit.errors import to_kopf
from lepton.kube.errors import KubeError, kube_error

# (HTTP status, what it is, config error?, retry after)
CASES = [
    (400, "malformed object", True, None),
    (403, "admission: PodSecurity, a policy; or RBAC", True, None),
    (403, 'pods "w-0" is forbidden: exceeded quota: gpus, requested: nvidia.com/gpu=8', False, 30.0),
    (403, "unable to create new content in namespace ml because it is being terminated", False, None),
    (422, "invalid: an unknown PriorityClass, a field out of range", True, None),
    (409, "conflict: a write that lost a race", False, 1.0),
    (429, "throttled", False, 5.0),
    (404, "namespace gone: nothing to report on", False, None),
    (401, "the operator's own credentials", False, None),
    (500, "server trouble", False, 5.0),
    (503, "server unavailable", False, 5.0),
    (0, "no answer", False, 5.0),
]


@pytest.mark.parametrize(("status", "what", "config", "retry"), CASES, ids=[str(c[0]) for c in CASES])
def test_classification(status: int, what: str, config: bool, retry: float | None):
    exc = KubeError("create pod", status, what)
    assert exc.config_error is config
    assert exc.retry_after == retry
    if config:
        # A configuration error is never retried by kopf either.
        assert isinstance(to_kopf(exc), kopf.PermanentError)


def test_the_api_servers_message_is_kept_for_the_condition():
    body = {
        "kind": "Status",
        "message": 'pods "job-worker-0" is forbidden: no PriorityClass with name nope was found',
        "reason": "Forbidden",
        "code": 403,
    }
    exc = kube_error(ApiException(status=403, reason="Forbidden", http_resp=None), "create pod")
    assert exc.message == "Forbidden"  # no body: the reason
    raw = ApiException(status=403, reason="Forbidden")
    raw.body = json.dumps(body)
    exc = kube_error(raw, "create pod")
    assert exc.config_error
    assert exc.message == body["message"]
    assert str(exc) == f"create pod: HTTP 403: {body['message']}"
