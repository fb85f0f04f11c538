"""The cluster as the client sees it: Lepton objects, their pods and events, read and written as
dicts through kube.rest, every failure turned into a LeptonError that says what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from lepton.client.errors import LeptonError, NoCluster, NotFound
from lepton.client.kinds import Kind
from lepton.kube.kubeconfig import KubeconfigError, load
from lepton.kube.rest import MERGE_PATCH, ApiError, Rest, Unreachable

JOB_LABEL = "lepton.ai/job-name"
T = TypeVar("T")


def connect(
    kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None
) -> Cluster:
    """A Cluster from a kubeconfig (kubectl's search order) or the in-cluster service account."""
    try:
        creds = load(kubeconfig, context)
    except KubeconfigError as exc:
        raise NoCluster(str(exc)) from None
    try:
        rest = Rest(creds)
    except (OSError, ValueError) as exc:  # unreadable certificates, bad server URL
        raise NoCluster(f"the credentials of {creds.source} are unusable: {exc}") from None
    return Cluster(rest, namespace or creds.namespace)


@contextmanager
def _translated(what: str, server: str) -> Iterator[None]:
    try:
        yield
    except Unreachable as exc:
        raise NoCluster(
            str(exc), "is the cluster running? check `kubectl cluster-info` and your KUBECONFIG"
        ) from None
    except ApiError as exc:
        raise api_error(exc, what, server) from None


def api_error(exc: ApiError, what: str, server: str) -> LeptonError:
    if exc.status == 404:
        # A missing object comes with a Status naming it; a resource the server does not serve at
        # all with a bare "404 page not found".
        if exc.message.startswith("404 page not found") or "could not find the requested" in exc.message:
            return NotFound(
                f"{server} does not serve this resource ({what}): are the Lepton CRDs installed?",
                "install them: `kubectl apply --server-side -f crds/` (or the Helm chart)",
            )
        return NotFound(
            f"{what}: not found", "check the name and the namespace (-n); `lepton get` lists them"
        )
    if exc.status == 401:
        return NoCluster(
            f"{server} does not accept our credentials ({exc.message})", "refresh your kubeconfig"
        )
    if exc.status == 403:
        return LeptonError(f"{what}: forbidden ({exc.message})", "ask for RBAC access to lepton.ai objects")
    if exc.status == 409:
        return LeptonError(f"{what}: {exc.message}", "delete it first, or pick another name")
    if exc.status == 422:
        return LeptonError(f"{what}: the API server refused it: {exc.message}", "fix the manifest")
    return LeptonError(f"{what}: {exc}")


@dataclass
class Cluster:
    rest: Rest
    namespace: str

    def call(self, what: str, action: Callable[[], T]) -> T:
        with _translated(what, self.rest.creds.server):
            return action()

    def get(self, kind: Kind, name: str) -> dict[str, Any]:
        return self.call(
            f"{kind.short}/{name} in {self.namespace}", lambda: self.rest.get(kind.path(self.namespace, name))
        )

    def objects(self, kind: Kind, all_namespaces: bool = False) -> list[dict[str, Any]]:
        path = kind.path(None if all_namespaces else self.namespace)
        items = self.call(f"listing {kind.plural}", lambda: self.rest.get(path)).get("items", [])
        return [dict(item) for item in items]

    def create(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("metadata", {}).get("name", "")
        namespace = body.get("metadata", {}).get("namespace") or self.namespace
        return self.call(
            f"creating {kind.short}/{name} in {namespace}",
            lambda: self.rest.request("POST", kind.path(namespace), body),
        )

    def patch(self, kind: Kind, name: str, body: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        path = kind.path(self.namespace, name) + (f"/{subresource}" if subresource else "")
        return self.call(
            f"{kind.short}/{name} in {self.namespace}",
            lambda: self.rest.request("PATCH", path, body, content_type=MERGE_PATCH),
        )

    def versions(
        self, kind: Kind, name: str, window_seconds: int = 2, start: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The object now (or ``start``, say what a create returned), then every version written
        after it (a watch, so no write is missed between two looks), and the latest again after
        each quiet ``window_seconds``. From ``start``, the writes the operator made between the
        create and a first read are seen too: they may be the job's first phases."""
        obj = start if start is not None else self.get(kind, name)
        yield obj
        version = str(obj["metadata"]["resourceVersion"])
        path, selector = kind.path(self.namespace), f"metadata.name={name}"
        while True:
            changed = False
            with _translated(f"watching {kind.short}/{name}", self.rest.creds.server):
                for event in self.rest.watch(path, version, window_seconds, selector):
                    kind_of_event = event.get("type")
                    if kind_of_event == "ERROR":  # 410 Gone: our version is too old; read afresh
                        obj = self.get(kind, name)
                        version = str(obj["metadata"]["resourceVersion"])
                        break
                    if kind_of_event == "DELETED":
                        raise NotFound(f"{kind.short}/{name} was deleted", "submit it again")
                    version = str(event["object"]["metadata"].get("resourceVersion") or version)
                    if kind_of_event != "BOOKMARK":
                        obj, changed = dict(event["object"]), True
                        yield obj
            if not changed:
                yield obj

    def pods(self, job: str) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        answer = self.call("listing pods", lambda: self.rest.get(path, labelSelector=f"{JOB_LABEL}={job}"))
        return [dict(p) for p in answer.get("items", [])]

    def events(self, kind: Kind, name: str) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{self.namespace}/events"
        selector = f"involvedObject.kind={kind.kind},involvedObject.name={name}"
        answer = self.call("listing events", lambda: self.rest.get(path, fieldSelector=selector))
        return sorted(
            answer.get("items", []), key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""
        )

    def priority_values(self) -> dict[str, int]:
        """PriorityClass name -> value (the admission queue's order); empty when we may not read them."""
        try:
            answer = self.rest.get("/apis/scheduling.k8s.io/v1/priorityclasses")
        except (ApiError, Unreachable):
            return {}
        return {str(p["metadata"]["name"]): int(p.get("value", 0)) for p in answer.get("items", [])}

    def log_lines(self, pod: str, container: str, *, follow: bool, since_time: str = "") -> Iterator[bytes]:
        """Lines of a pod's log, each prefixed by the kubelet's RFC 3339 timestamp."""
        query = {"container": container, "timestamps": "true", "follow": "true" if follow else "false"}
        if since_time:
            query["sinceTime"] = since_time
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod}/log"
        try:
            yield from self.rest.lines(path, query)
        except ApiError as exc:
            if exc.status == 404 and "not found" in exc.message and pod in exc.message:
                raise NotFound(
                    f"pod {pod} is gone", "finished pods are kept only with cleanPodPolicy None/Running"
                ) from None
            raise LeptonError(
                f"the log of pod {pod} is not available: {exc.message}",
                "its node must serve logs (the kubelet; simulated KWOK nodes serve none)",
            ) from None
        except Unreachable as exc:
            raise NoCluster(str(exc), "is the cluster running? check `kubectl cluster-info`") from None

    def service_proxy(
        self, service: str, port: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """POST through the API server's service proxy (reaches a ClusterIP Service from outside)."""
        target = f"/api/v1/namespaces/{self.namespace}/services/{service}:{port}/proxy{path}"
        return self.call(
            f"service {service}", lambda: self.rest.raw("POST", target, body=body, headers=headers)
        )
