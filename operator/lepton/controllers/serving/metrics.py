"""One autoscaling round's reads from Prometheus: where to ask (the service's URL or the operator's
default), with which credentials (a bearer token and a CA from Secrets or ConfigMaps), and what
(the metric, its burst window, the idle evidence). Every failure becomes a classified Error that the
policy holds replicas on; no token or CA ever reaches a log, an event or the status."""

from __future__ import annotations

import base64
import binascii

from lepton.api.autoscaling import Autoscaling, KeyRef, Metric
from lepton.api.inferenceservice import InferenceService
from lepton.controllers.serving.context import Serving
from lepton.kube import resources
from lepton.kube.errors import KubeError
from lepton.policies.autoscaling import Readings
from lepton.policies.metric_result import Error, MetricResult, Value
from lepton.prom.client import CaBundle, PrometheusClient
from lepton.prom.queries import BURST_WINDOW_SECONDS, builtin_query, custom_query, idle_requests_query


class CredentialError(Exception):
    """A Secret or ConfigMap the autoscaling spec names cannot be used (the message says which)."""


async def read(isvc: InferenceService, serving: Serving, *, held: int | None = None) -> Readings:
    """This round's readings; ``held`` requests waiting in the activator are the demand at zero
    replicas (no model server runs to export a metric), so no query is needed then."""
    autoscaling = isvc.spec.autoscaling
    assert autoscaling is not None
    at_zero = (
        isvc.status is not None
        and isvc.status.autoscaler is not None
        and not isvc.status.autoscaler.desired_replicas
    )
    if held is not None and at_zero:
        return Readings(Value(float(held)), query=f"activator: {held} requests held")
    ns, name = isvc.namespace, isvc.name
    version = isvc.status.current_version if isvc.status else None
    if autoscaling.metric is Metric.CUSTOM:
        assert autoscaling.query is not None
        query = custom_query(autoscaling.query, ns, name, version)
    else:
        query = builtin_query(autoscaling.metric, ns, name)
    url = autoscaling.prometheus_url or serving.config.prometheus_url
    if url is None:
        why = (
            "no Prometheus to ask: set spec.autoscaling.prometheusUrl or the operator's LEPTON_PROMETHEUS_URL"
        )
        return Readings(Error(why), query=query)
    try:
        prom = await _client(url, autoscaling, ns, serving)
    except CredentialError as exc:
        return Readings(Error(str(exc)), query=query)
    metric = await prom.query(query)
    burst: MetricResult | None = None
    if autoscaling.metric in (Metric.RPS, Metric.CONCURRENCY, Metric.QUEUE_DEPTH):
        burst = await prom.query(
            builtin_query(autoscaling.metric, ns, name, window_seconds=BURST_WINDOW_SECONDS)
        )
    idle: MetricResult | None = None
    if autoscaling.scale_to_zero is not None:
        idle = await prom.query(idle_requests_query(ns, name, autoscaling.scale_to_zero.idle_seconds))
    return Readings(metric, burst, idle, query)


async def _client(url: str, autoscaling: Autoscaling, namespace: str, serving: Serving) -> PrometheusClient:
    auth = autoscaling.prometheus_auth
    token = ca = None
    if auth is not None and auth.bearer_token_secret is not None:
        token = await _value(serving, namespace, "secrets", auth.bearer_token_secret)
    if auth is not None and auth.ca is not None:
        ref, plural = (auth.ca.secret, "secrets") if auth.ca.secret else (auth.ca.config_map, "configmaps")
        assert ref is not None
        ca = CaBundle(pem=await _value(serving, namespace, plural, ref))
    return serving.prometheus(url, token, ca)


async def _value(serving: Serving, namespace: str, plural: str, ref: KeyRef) -> str:
    kind = "Secret" if plural == "secrets" else "ConfigMap"
    try:
        body = await resources.get(serving.kube, resources.Ref("v1", plural, namespace, ref.name))
    except KubeError as exc:
        hint = " (the operator may read Secrets only with the Helm value autoscaler.readSecrets)"
        extra = hint if exc.status == 403 and kind == "Secret" else ""
        raise CredentialError(f"cannot read {kind} {ref.name}: HTTP {exc.status}{extra}") from None
    if body is None:
        raise CredentialError(f"{kind} {ref.name} does not exist")
    if plural == "configmaps":
        value = (body.get("data") or {}).get(ref.key)
        if value is None:
            raise CredentialError(f"ConfigMap {ref.name} has no key {ref.key}")
        return str(value)
    encoded = (body.get("data") or {}).get(ref.key)
    if encoded is None:
        raise CredentialError(f"Secret {ref.name} has no key {ref.key}")
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialError(f"Secret {ref.name} key {ref.key} is not base64 text") from None
