"""Failed API requests as one exception type that says whether retrying can help.

The kube layer knows HTTP, not kopf: the controllers map a KubeError onto kopf's retry semantics at
their edge (lepton.controllers.kit.errors)."""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException

# Worth retrying: throttled, server trouble, or a write that lost a race (conflict / timeout).
RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# The object as asked for is refused and asking again cannot help: malformed (400), forbidden by an
# admission plugin or policy, a quota, RBAC (403), or invalid (422: an unknown PriorityClass...).
REFUSED = frozenset({400, 403, 422})
# A namespace over its ResourceQuota: asked again later, not every 5 s (quota frees as pods end).
QUOTA_RETRY_S = 30.0


class KubeError(Exception):
    """A request the API server refused or could not answer.

    ``status`` is the HTTP status (0 when no answer came); ``retry_after`` the delay in seconds
    after which trying again may succeed, or None when it cannot (a 4xx other than the races)."""

    def __init__(self, what: str, status: int, message: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {message}")
        self.status = status
        self.message = message

    @property
    def quota_exceeded(self) -> bool:
        """403 from the ResourceQuota admission: the object is fine, the namespace is full for now.
        Pods that finish free the quota, so it is a wait, not the user's configuration error."""
        return self.status == 403 and "exceeded quota" in self.message

    @property
    def namespace_terminating(self) -> bool:
        """403 because the namespace is being deleted: the object goes with it, nothing to report."""
        return self.status == 403 and "because it is being terminated" in self.message

    @property
    def config_error(self) -> bool:
        """The API server refused the object itself (see REFUSED): what the user wrote, or the
        cluster's policies, must change first; the controllers report it instead of retrying."""
        return self.status in REFUSED and not self.quota_exceeded and not self.namespace_terminating

    @property
    def retry_after(self) -> float | None:
        if self.quota_exceeded:
            return QUOTA_RETRY_S
        if self.status in RETRYABLE or self.status == 0:
            return 1.0 if self.status == 409 else 5.0
        return None


def message_of(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or exc.status)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or exc.status)


def kube_error(exc: ApiException, what: str) -> KubeError:
    return KubeError(what, int(exc.status or 0), message_of(exc))
