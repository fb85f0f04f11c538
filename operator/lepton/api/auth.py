"""Endpoint authentication of an InferenceService: the Secrets holding its API tokens."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from lepton.api.common import LeptonModel

DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"  # noqa: S105 - a pattern, not a secret
MAX_TOKEN_SECRETS = 8


class TokenSecret(LeptonModel):
    """A key of a Secret in the service's namespace whose value holds API tokens, one a line."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
    """Name of the Secret."""
    key: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=SECRET_KEY_PATTERN)]
    """Key of the Secret holding the tokens."""


class Auth(LeptonModel):
    """API tokens the model servers require (``Authorization: Bearer <token>``); health and /metrics
    stay open. The Secrets are mounted into the server pods, never read by the operator; the servers
    re-read them within seconds of a change, so tokens rotate without a restart. A missing Secret or
    key keeps the new replicas from starting (the kubelet cannot mount it): the service's Ready
    condition (Degraded while other replicas serve) then says TokenSecretMissing and names it, and
    the replicas already serving keep their last tokens."""

    token_secrets: Annotated[
        list[TokenSecret],
        Field(
            min_length=1,
            max_length=MAX_TOKEN_SECRETS,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name", "key"],
            },
        ),
    ]
    """Secret keys whose tokens are accepted (any of them: list old and new while rotating)."""
