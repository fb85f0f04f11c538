"""Reads from Prometheus: one autoscaling round's (the metric, its burst window, the idle evidence)
and one canary analysis check's (the new version's requests, 5xx rate, p95 and custom checks).
Both ask the same server with the same credentials: the service's URL or the operator's default,
a bearer token and a CA from Secrets or ConfigMaps. Every failure becomes a classified Error that
the policies hold on (replicas held; a check that counts neither way); no token or CA ever reaches
a log, an event or the status."""

from __future__ import annotations

import asyncio
import base64
import binascii

from lepton.api.autoscaling import Autoscaling, KeyRef, Metric
from lepton.api.inferenceservice import InferenceService
from lepton.controllers.serving.context import Serving
from lepton.kube import resources
from lepton.kube.errors import KubeError
from lepton.policies.autoscaling import Readings
from lepton.policies.metric_result import Error, MetricResult, Value
from lepton.policies.rollout_analysis import Check, Verdict, verdict
from lepton.prom.client import CaBundle, PrometheusClient
from lepton.prom.queries import (
    BURST_WINDOW_SECONDS,
    builtin_query,
    canary_queries,
    custom_query,
    idle_requests_query,
)


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
    prom = await prometheus_for(isvc, serving)
    if isinstance(prom, Error):
        return Readings(prom, query=query)
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


async def analyse(isvc: InferenceService, version: str, serving: Serving) -> Verdict:
    """One analysis check of ``version`` (the new version's label only) over the last interval."""
    analysis = isvc.spec.rollout.analysis
    requests, queries = canary_queries(analysis, isvc.namespace, isvc.name, version)
    prom = await prometheus_for(isvc, serving)
    if isinstance(prom, Error):
        return verdict(prom, [], analysis.min_requests)
    count, *values = await asyncio.gather(prom.query(requests), *(prom.query(q.promql) for q in queries))
    checks = [Check(q.name, value, q.max, q.min) for q, value in zip(queries, values, strict=True)]
    return verdict(count, checks, analysis.min_requests)


async def prometheus_for(isvc: InferenceService, serving: Serving) -> PrometheusClient | Error:
    """The client of the service's Prometheus (spec.autoscaling's URL and credentials, else the
    operator's LEPTON_PROMETHEUS_URL), or why there is none."""
    autoscaling = isvc.spec.autoscaling
    url = (autoscaling.prometheus_url if autoscaling else None) or serving.config.prometheus_url
    if url is None:
        where = "spec.autoscaling.prometheusUrl or " if autoscaling else ""
        return Error(f"no Prometheus to ask: set {where}the operator's LEPTON_PROMETHEUS_URL")
    try:
        return await _client(url, autoscaling, isvc.namespace, serving)
    except CredentialError as exc:
        return Error(str(exc))


async def _client(
    url: str, autoscaling: Autoscaling | None, namespace: str, serving: Serving
) -> PrometheusClient:
    auth = autoscaling.prometheus_auth if autoscaling else None
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
